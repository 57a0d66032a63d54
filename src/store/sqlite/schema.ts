import type { Migration } from './migrate.js';

/** The control database: who and what exists, and the wrapped keys. No visitor data lives here. */
export const CONTROL_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'tenants, users, sites, keys, salts, system events',
    sql: `
      CREATE TABLE tenants (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        deleted_at INTEGER
      );
      CREATE TABLE tenant_keys (
        tenant_id TEXT NOT NULL REFERENCES tenants(id),
        version INTEGER NOT NULL,
        master_version TEXT NOT NULL,
        sealed BLOB NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('active', 'pending')),
        created_at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, version)
      );
      CREATE TABLE users (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT,
        must_change_password INTEGER NOT NULL DEFAULT 1,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE memberships (
        user_id TEXT NOT NULL REFERENCES users(id),
        tenant_id TEXT NOT NULL REFERENCES tenants(id),
        role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'analyst', 'viewer')),
        created_at INTEGER NOT NULL,
        PRIMARY KEY (user_id, tenant_id)
      );
      CREATE TABLE sites (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants(id),
        name TEXT NOT NULL,
        settings TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        deleted_at INTEGER
      );
      CREATE INDEX sites_tenant ON sites(tenant_id);
      CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants(id),
        site_id TEXT NOT NULL REFERENCES sites(id),
        scope TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        label TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
      );
      CREATE TABLE salts (
        day TEXT PRIMARY KEY,
        master_version TEXT NOT NULL,
        sealed BLOB NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE system_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        ts INTEGER NOT NULL,
        type TEXT NOT NULL,
        tenant_id TEXT,
        actor TEXT NOT NULL,
        detail TEXT NOT NULL
      );
    `,
  },
];

/** One file per tenant: its events, sessions and filtered-traffic counts. */
export const TENANT_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'events, sessions, filtered traffic',
    sql: `
      CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        site_id TEXT NOT NULL,
        ts INTEGER NOT NULL,
        day TEXT NOT NULL,
        type TEXT NOT NULL,
        name TEXT,
        hostname TEXT NOT NULL,
        path TEXT NOT NULL,
        query TEXT NOT NULL DEFAULT '',
        fragment TEXT,
        title TEXT,
        href TEXT,
        referrer_host TEXT,
        referrer_domain TEXT,
        channel TEXT NOT NULL,
        utm_source TEXT,
        utm_medium TEXT,
        utm_campaign TEXT,
        utm_term TEXT,
        utm_content TEXT,
        click_id TEXT,
        country TEXT,
        region TEXT,
        city TEXT,
        browser TEXT,
        browser_version TEXT,
        os TEXT,
        device TEXT,
        props TEXT,
        engagement_ms INTEGER,
        scroll_depth INTEGER,
        visitor_id TEXT NOT NULL,
        session_id TEXT NOT NULL,
        flags TEXT NOT NULL DEFAULT '',
        origin TEXT NOT NULL DEFAULT 'tracker',
        dedupe_key TEXT
      );
      CREATE INDEX events_site_day ON events(site_id, day, type);
      -- Only imported events carry a key: live events skip this index altogether.
      CREATE UNIQUE INDEX events_dedupe ON events(dedupe_key) WHERE dedupe_key IS NOT NULL;
      CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        site_id TEXT NOT NULL,
        visitor_id TEXT NOT NULL,
        day TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        last_at INTEGER NOT NULL,
        entry_path TEXT,
        exit_path TEXT,
        pageviews INTEGER NOT NULL DEFAULT 0,
        interactions INTEGER NOT NULL DEFAULT 0,
        engagement_ms INTEGER NOT NULL DEFAULT 0,
        channel TEXT NOT NULL,
        referrer_domain TEXT,
        utm_source TEXT,
        utm_medium TEXT,
        utm_campaign TEXT,
        country TEXT,
        region TEXT,
        city TEXT,
        browser TEXT,
        os TEXT,
        device TEXT
      );
      -- Without last_at: touching a session must not rewrite its index entry on every event.
      CREATE INDEX sessions_visitor ON sessions(site_id, visitor_id);
      CREATE INDEX sessions_site_day ON sessions(site_id, day);
      CREATE TABLE filtered (
        site_id TEXT NOT NULL,
        day TEXT NOT NULL,
        reason TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (site_id, day, reason)
      );
      CREATE TABLE filtered_keys (
        key TEXT PRIMARY KEY
      ) WITHOUT ROWID;
      CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value BLOB NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'sessions awaiting their landing page',
    // A session begun by the engagement beacon a page sends as it is left takes its source from
    // the pageview that follows. The writer held this in memory; it now writes session figures
    // in batches and replays them after a crash, so the row says it. An earlier row awaits its
    // landing when it has no page yet and its first event is such a beacon (QA: set to 0 for all,
    // a session in that state at the upgrade kept the beacon's source). One pass over the
    // events finds each session's first.
    sql: `
      ALTER TABLE sessions ADD COLUMN awaiting_landing INTEGER NOT NULL DEFAULT 0;
      CREATE TEMP TABLE first_events AS
        SELECT session_id, min(id) AS first FROM events GROUP BY session_id;
      CREATE UNIQUE INDEX temp.first_events_session ON first_events (session_id);
      UPDATE sessions SET awaiting_landing = 1
      WHERE entry_path IS NULL AND (
        SELECT e.type FROM temp.first_events f JOIN events e ON e.id = f.first
        WHERE f.session_id = sessions.id) = 'engagement';
      DROP TABLE temp.first_events;
    `,
  },
  {
    version: 3,
    name: "each session's last event written into its figures",
    // The server writes held session figures in slices, each its own transaction, and moves the
    // file's mark only after the last: a replay after a crash in between skips, for each session,
    // the events its row already counts (TenantWriter). 0 for earlier rows: the mark covers them.
    sql: `
      ALTER TABLE sessions ADD COLUMN figures_through INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 4,
    name: "each session's entry and exit pageview times",
    // The entry and exit pages are the earliest and the latest pageview's (on a tie the first and
    // the last stored), compared by their own times: the session's start and last activity also
    // count other events, so the page depended on when the figures were written (QA). Earlier
    // rows take them from the pageviews already written into them, in one pass over the events:
    // the server's up to the mark (the rest are replayed as touches), the import's all. A row
    // whose pageviews are gone keeps its start and last activity.
    // Commits 2c3ad69 to 40b9b92 of the eleventh session added both columns in step 3.
    columns: [
      { table: 'sessions', column: 'entry_at', definition: 'INTEGER' },
      { table: 'sessions', column: 'exit_at', definition: 'INTEGER' },
    ],
    sql: `
      CREATE TEMP TABLE page_times AS
        SELECT session_id, min(ts) AS first, max(ts) AS last FROM events
        WHERE type = 'pageview' AND (origin <> 'tracker' OR id <= coalesce(
          (SELECT value FROM meta WHERE key = 'sessions_through'), id))
        GROUP BY session_id;
      CREATE UNIQUE INDEX temp.page_times_session ON page_times (session_id);
      UPDATE sessions SET
        entry_at = coalesce(
          (SELECT first FROM temp.page_times WHERE session_id = sessions.id), started_at),
        exit_at = coalesce(
          (SELECT last FROM temp.page_times WHERE session_id = sessions.id), last_at)
      WHERE entry_path IS NOT NULL;
      DROP TABLE temp.page_times;
    `,
  },
];
