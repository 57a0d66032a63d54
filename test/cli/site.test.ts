import { randomBytes } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LocalKeyProvider } from '../../src/crypto/local-provider.js';
import { SqliteControlStore } from '../../src/store/sqlite/control.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

describe('lighttrail site, apikey, keys and tenant commands', () => {
  const { dir, cleanup } = tempDir('lighttrail-site-');
  const env = { LIGHTTRAIL_DATA_DIR: dir, LIGHTTRAIL_MASTER_KEY: randomBytes(32).toString('hex') };
  let siteId: string;
  let organisationId: string;

  beforeAll(async () => {
    const setup = await runCli(
      [
        'setup',
        '--org',
        'Clinic A',
        '--domain',
        'www.clinic-a.example',
        '--email',
        'owner@clinic-a.example',
        '--json',
      ],
      env,
    );
    expect(setup.code).toBe(0);
    ({ siteId, organisationId } = JSON.parse(setup.stdout) as {
      siteId: string;
      organisationId: string;
    });
  });

  afterAll(() => cleanup());

  async function events(type: string) {
    const store = await SqliteControlStore.open(
      dir,
      LocalKeyProvider.fromKey(env.LIGHTTRAIL_MASTER_KEY),
    );
    try {
      return store.listSystemEvents({ type });
    } finally {
      store.close();
    }
  }

  it('setup shows the one-time password once and stores only its hash', async () => {
    const store = await SqliteControlStore.open(
      dir,
      LocalKeyProvider.fromKey(env.LIGHTTRAIL_MASTER_KEY),
    );
    const raw = (
      store as unknown as { db: { prepare(sql: string): { get(): { password_hash: string } } } }
    ).db;
    const { password_hash: hash } = raw.prepare('SELECT password_hash FROM users').get();
    store.close();

    expect(hash).toMatch(/^scrypt\$32768\$8\$1\$/);
  });

  it("setup's next command carries the data folder, never the master key", async () => {
    const result = await runCli(
      ['setup', '--org', 'Hint', '--domain', 'hint.example', '--email', 'hint@hint.example'],
      env,
    );

    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`LIGHTTRAIL_DATA_DIR=${dir} npx lighttrail apikey create`);
    expect(result.stdout).not.toContain(env.LIGHTTRAIL_MASTER_KEY);
  });

  it('a failed setup (e-mail taken) leaves no organisation, site, key or file', async () => {
    const before = (await runCli(['tenant', 'list'], env)).stdout;
    const files = readdirSync(path.join(dir, 'tenants')).length;

    const again = await runCli(
      ['setup', '--org', 'Clinic B', '--domain', 'b.example', '--email', 'OWNER@clinic-a.example'],
      env,
    );

    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^lighttrail: ERR_USER_EXISTS: /);
    expect((await runCli(['tenant', 'list'], env)).stdout).toBe(before);
    expect(readdirSync(path.join(dir, 'tenants'))).toHaveLength(files);
  });

  it('updates settings, validates every value and records each change', async () => {
    const update = await runCli(
      [
        'site',
        'update',
        siteId,
        '--geo',
        'safe-harbor',
        '--sensitive-params',
        'token,sid',
        '--count-only',
        '/portal/**',
        '--titles',
        'on',
      ],
      env,
    );
    expect(update.code).toBe(0);

    const show = await runCli(['site', 'show', siteId], env);
    expect(JSON.parse(show.stdout).settings).toMatchObject({
      geoPrecision: 'safe-harbor',
      sensitiveParams: ['token', 'sid'],
      countOnly: ['/portal/**'],
      pageTitles: true,
    });
    const recorded = await events('site.settings_changed');
    expect(recorded).toHaveLength(1);
    expect(recorded[0]?.detail.changed).toEqual([
      'sensitiveParams',
      'countOnly',
      'geoPrecision',
      'pageTitles',
    ]);
  });

  it("lists a site's recorded changes, and records nothing for the values it has", async () => {
    const created = await runCli(
      ['site', 'create', '--tenant', organisationId, '--name', 'History', '--domains', 'h.example'],
      env,
    );
    const { id } = JSON.parse((await runCli(['site', 'list', '--json'], env)).stdout).find(
      (s: { name: string }) => s.name === 'History',
    ) as { id: string };
    expect(created.stdout.trim()).toBe(`site ${id} created`);

    expect((await runCli(['site', 'update', id, '--geo', 'country'], env)).code).toBe(0);
    expect((await runCli(['site', 'update', id, '--name', 'History 2'], env)).code).toBe(0);
    const before = (await runCli(['site', 'history', id, '--json'], env)).stdout;

    // The values it already has: said so, and not one more event.
    const again = await runCli(
      ['site', 'update', id, '--geo', 'country', '--name', 'History 2'],
      env,
    );
    expect(again.code).toBe(0);
    expect(again.stdout.trim()).toBe(
      `site ${id} unchanged: the values given are its current ones, and nothing was recorded`,
    );
    const json = await runCli(['site', 'update', id, '--geo', 'country', '--json'], env);
    expect(JSON.parse(json.stdout)).toMatchObject({ id, unchanged: true });
    expect((await runCli(['site', 'history', id, '--json'], env)).stdout).toBe(before);

    // A word too many is refused, not ignored, and not repeated back.
    const extra = await runCli(['site', 'history', id, 'geo=city'], env);
    expect(extra.code).toBe(2);
    expect(extra.stderr.trim()).toBe(
      'lighttrail: ERR_USAGE: too many arguments: at most 2 besides options (see --help)',
    );
    expect(extra.stdout).toBe('');
    const stats = await runCli(['stats', '--site', id, 'geo=city'], env);
    expect(stats.code).toBe(2);
    expect(stats.stderr.trim()).toBe(
      'lighttrail: ERR_USAGE: too many arguments: none besides options (see --help)',
    );

    const history = JSON.parse(before) as Array<{ type: string; detail: Record<string, unknown> }>;
    expect(history.map((event) => event.type)).toEqual([
      'site.created',
      'site.settings_changed',
      'site.renamed',
    ]);
    expect(history[1]?.detail.changed).toEqual(['geoPrecision']);

    const text = await runCli(['site', 'history', id], env);
    const lines = text.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(
      /^\d{4}-\d\d-\d\dT[\d:.]+Z {2}site\.created {2}cli:site {2}name "History"$/,
    );
    expect(lines[1]).toMatch(/ {2}site\.settings_changed {2}cli:site {2}changed geoPrecision$/);
    expect(lines[2]).toMatch(/ {2}site\.renamed {2}cli:site {2}"History" to "History 2"$/);

    const unknown = await runCli(['site', 'history', 'no-such-site'], env);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('ERR_SITE_NOT_FOUND');
    expect(unknown.stdout).toBe('');
  });

  it('keeps each parameter name once, as first written (QA)', async () => {
    const update = await runCli(
      [
        'site',
        'update',
        siteId,
        '--query-allowlist',
        'q,Q,q, page ,,',
        '--sensitive-params',
        'rx,RX',
      ],
      env,
    );
    expect(update.stderr).toBe('');

    const { settings } = JSON.parse((await runCli(['site', 'show', siteId], env)).stdout);
    expect(settings.queryAllowlist).toEqual(['q', 'page']);
    expect(settings.sensitiveParams).toEqual(['rx']);
  });

  it('takes domains in any case, with a final dot, or as international names', async () => {
    const domains = 'PORTAL.Clinic-A.example.,*.Klinik-München.example,portal.clinic-a.example';
    const update = await runCli(['site', 'update', siteId, '--domains', domains], env);
    expect(update.stderr).toBe('');
    expect(update.code).toBe(0);

    const show = await runCli(['site', 'show', siteId], env);
    expect(JSON.parse(show.stdout).settings.domains).toEqual([
      'portal.clinic-a.example',
      '*.xn--klinik-mnchen-3ob.example',
    ]);
    const refused = await runCli(['site', 'update', siteId, '--domains', 'not a host'], env);
    expect(refused.stderr).toContain('a host name such as www.clinic.example');
  });

  it.each([
    [['--geo', 'street'], 'geoPrecision'],
    [['--timezone', 'Mars/Olympus'], 'timeZone'],
    [['--domains', 'not a host'], 'domains'],
    [['--domains', ''], 'at least one domain'],
    [['--gpc', 'maybe'], '--gpc must be on or off'],
    [['--count-only', 'portal'], 'countOnly'],
    [['--count-only', 'portal/**'], 'a pattern is a path from the root'],
    [['--count-only', '/portal/***'], '* stands for one whole segment'],
    [['--count-only', '/portal/**/x'], '** only for the rest'],
    [['--count-only', '/portal/../**'], 'without . or .. segments'],
    [['--path-rules', '/./patients/*'], 'without . or .. segments'],
    [['--path-rules', '/patients/id-*'], 'pathRules: "/patients/id-*" is not valid'],
    [['--path-rules', '/patients/**'], 'pathRules: "/patients/**" hides nothing'],
    [['--query-allowlist', 'q=1'], 'queryAllowlist: "q=1" is not valid: a parameter name of'],
    [['--sensitive-params', 'ünïcode'], 'is not valid: a parameter name of 1 to 64 letters'],
  ])('refuses %o without changing anything', async (flags, message) => {
    const before = (await events('site.settings_changed')).length;
    const result = await runCli(['site', 'update', siteId, ...flags], env);

    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/^lighttrail: ERR_(INVALID_ARGUMENT|USAGE): /);
    expect(result.stderr).toContain(message);
    expect((await events('site.settings_changed')).length).toBe(before);
  });

  it('says what is wrong with the command line itself, in one short line', async () => {
    const noId = await runCli(['site', 'show'], env);
    expect(noId.code).toBe(2);
    expect(noId.stderr.trim()).toBe('lighttrail: ERR_USAGE: a site ID is needed (see --help)');

    const bogus = await runCli(['site', 'update', siteId, '--bogus', 'x'], env);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr.trim()).toBe(
      "lighttrail: ERR_USAGE: Unknown option '--bogus' (see --help)",
    );

    const twice = await runCli(['stats', '--site', siteId, '--site', 'other'], env);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toBe(
      'lighttrail: ERR_USAGE: --site is given more than once (see --help)\n',
    );

    // A value that looks like the next option: Node's three lines of advice become one.
    const ambiguous = await runCli(['stats', '--site', '--from', '2026-11-01'], env);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toBe(
      "lighttrail: ERR_USAGE: Option '--site' argument is ambiguous: a value there, or one that " +
        'begins with "-" written as --site=VALUE (see --help)\n',
    );
  });

  it('refuses a name that would rewrite a terminal, and creates nothing', async () => {
    // Fifteenth session's QA: `site list` printed escapes raw (retitled and cleared the screen).
    const sitesBefore = (await runCli(['site', 'list', '--json'], env)).stdout;
    for (const name of [
      '\u001b]0;PWNED\u0007\u001b[2J',
      'two\nlines',
      '\u202eevil',
      ' ',
      'x'.repeat(201),
      'Bad\u200bname',
      'Bad\ufeffname',
    ]) {
      const created = await runCli(
        ['site', 'create', '--tenant', organisationId, '--name', name, '--domains', 'b.example'],
        env,
      );
      expect(created.code, JSON.stringify(name)).toBe(2);
      expect(created.stderr).toMatch(/^lighttrail: ERR_INVALID_ARGUMENT: site name: /);
    }
    expect((await runCli(['site', 'list', '--json'], env)).stdout).toBe(sitesBefore);

    const tenantFiles = () => readdirSync(path.join(dir, 'tenants')).sort();
    const filesBefore = tenantFiles();
    const org = await runCli(
      ['setup', '--org', 'Bad\u0007Org', '--domain', 'c.example', '--email', 'c@c.example'],
      env,
    );
    expect(org.code).toBe(2);
    expect(org.stderr).toMatch(/ERR_INVALID_ARGUMENT: organisation name: /);
    expect(tenantFiles()).toEqual(filesBefore);

    // Renamed by site update, checked the same way; the refusal leaves the name as it was.
    const badRename = await runCli(['site', 'update', siteId, '--name', 'x\u0007'], env);
    expect(badRename.code).toBe(2);
    const renamed = await runCli(
      ['site', 'update', siteId, '--name', 'Clinic A main', '--json'],
      env,
    );
    expect(JSON.parse(renamed.stdout)).toMatchObject({ id: siteId, name: 'Clinic A main' });
    const renames = (await events('site.renamed')).filter((e) => e.detail.siteId === siteId);
    expect(renames).toEqual([
      expect.objectContaining({ detail: expect.objectContaining({ to: 'Clinic A main' }) }),
    ]);

    // Ends are trimmed; a name of letters from any script, emoji included, is kept.
    const kept = await runCli(
      [
        'site',
        'create',
        '--tenant',
        organisationId,
        '--name',
        '  Klinik Süd 🏥 ',
        '--domains',
        'd.example',
        '--json',
      ],
      env,
    );
    expect(kept.code).toBe(0);
    expect(JSON.parse(kept.stdout)).toMatchObject({ name: 'Klinik Süd 🏥' });
  });

  it('stats --limit sets the rows per top list and refuses what is not 1 to 1000', async () => {
    const table = await runCli(['stats', '--site', siteId, '--limit', '3'], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('Top pages with query');
    expect(table.stdout).toMatch(/\nEntry pages(: none|\n)/);
    expect(table.stdout).toMatch(/\nExit pages(: none|\n)/);

    const refused = await runCli(['stats', '--site', siteId, '--limit', '0', '--json'], env);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr.trim()).toBe(
      'lighttrail: ERR_INVALID_ARGUMENT: limit must be a whole number from 1 to 1000',
    );
  });

  it('moves stored days to a new time zone (QA: a minute split over two days)', async () => {
    const ua = 'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0';
    const line = (time: string, page: string) =>
      `198.51.100.7 - - [10/Mar/2026:${time} +0000] "GET ${page} HTTP/1.1" 200 512 "-" "${ua}"`;
    const log = path.join(dir, 'tz.log');
    writeFileSync(log, `${line('05:30:00', '/early')}\n${line('12:00:00', '/noon')}\n`);
    expect(
      (await runCli(['import', '--site', siteId, '--format', 'combined', log], env)).code,
    ).toBe(0);

    const pageviewsByDay = async () => {
      const args = ['stats', '--site', siteId, '--from', '2026-03-08', '--to', '2026-03-11'];
      const stats = JSON.parse((await runCli([...args, '--json'], env)).stdout) as {
        days: Array<{ day: string; pageviews: number; sessions: number }>;
      };

      return Object.fromEntries(stats.days.map((row) => [row.day, [row.pageviews, row.sessions]]));
    };
    expect(await pageviewsByDay()).toEqual({ '2026-03-10': [2, 2] });

    const moved = await runCli(['site', 'update', siteId, '--timezone', 'Pacific/Pago_Pago'], env);
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stdout).toContain(
      '1 events and 1 sessions moved to their days in Pacific/Pago_Pago',
    );
    // 05:30 UTC is the evening before in Pago Pago (UTC-11), and so is that visit's session.
    expect(await pageviewsByDay()).toEqual({ '2026-03-09': [1, 1], '2026-03-10': [1, 1] });

    const back = await runCli(['site', 'update', siteId, '--timezone', 'UTC', '--json'], env);
    expect(JSON.parse(back.stdout).redated).toEqual({ events: 1, sessions: 1 });
    expect(await pageviewsByDay()).toEqual({ '2026-03-10': [2, 2] });
    // The table leads each top list with the figure it is ordered by (fresh-clone QA).
    const table = await runCli(['stats', '--site', siteId, '--from', '2026-03-10'], env);
    expect(table.stdout).toMatch(/Top pages\n *pageviews +visitors\n/);
    expect(table.stdout).toMatch(/Channels\n *sessions +visitors\n/);
    // Another setting leaves the days alone, and says nothing of them.
    const other = await runCli(['site', 'update', siteId, '--titles', 'off'], env);
    expect(other.stdout.trim()).toBe(`site ${siteId} updated`);
  });

  it('creates an API key shown once and stored hashed', async () => {
    const result = await runCli(['apikey', 'create', '--site', siteId, '--json'], env);
    const { token, keyId } = JSON.parse(result.stdout) as { token: string; keyId: string };

    expect(token).toMatch(/^lt_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const store = await SqliteControlStore.open(
      dir,
      LocalKeyProvider.fromKey(env.LIGHTTRAIL_MASTER_KEY),
    );
    const record = store.getApiKey(keyId);
    store.close();
    expect(record?.secretHash).toMatch(/^[0-9a-f]{64}$/);
    // The secret is base64url, which may itself hold '_': take everything after the id.
    const secret = /^lt_[0-9a-f]{16}_(.+)$/.exec(token)?.[1] as string;
    expect(secret).toHaveLength(43);
    expect(JSON.stringify(record)).not.toContain(secret);
  });

  it('lists and revokes API keys', async () => {
    const created = JSON.parse(
      (await runCli(['apikey', 'create', '--site', siteId, '--json'], env)).stdout,
    ) as { keyId: string };

    const revoke = await runCli(['apikey', 'revoke', created.keyId], env);
    expect(revoke.code).toBe(0);
    const list = JSON.parse(
      (await runCli(['apikey', 'list', '--site', siteId, '--json'], env)).stdout,
    ) as Array<{ keyId: string; revokedAt: string | null }>;
    expect(list.find((key) => key.keyId === created.keyId)?.revokedAt).toEqual(expect.any(String));
    const twice = await runCli(['apikey', 'revoke', created.keyId], env);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/^lighttrail: ERR_NOT_FOUND: /);
  });

  it('rotates the tenant key and the master key from the command line', async () => {
    // An unknown organisation is a wrong argument (exit 2), like for `tenant delete` (QA).
    const unknown = await runCli(['keys', 'rotate', '--tenant', 'nope'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('lighttrail: ERR_TENANT_NOT_FOUND: no organisation nope\n');

    const tenant = await runCli(['keys', 'rotate', '--tenant', organisationId], env);
    expect(tenant.code).toBe(0);
    expect(tenant.stdout).toContain('data key v2 is active');

    const newKey = randomBytes(32).toString('hex');
    const master = await runCli(['keys', 'rotate', '--master'], {
      ...env,
      LIGHTTRAIL_NEW_MASTER_KEY: newKey,
    });
    expect(master.code).toBe(0);

    const oldKey = await runCli(['site', 'list'], env);
    expect(oldKey.code).toBe(1);
    expect(oldKey.stderr).toMatch(/^lighttrail: ERR_MASTER_KEY_WRONG: /);
    env.LIGHTTRAIL_MASTER_KEY = newKey;
    const list = await runCli(['site', 'list'], env);
    expect(list.stdout).toContain(siteId);
  });

  it('deletes a tenant only with confirmation, and records it', async () => {
    const unconfirmed = await runCli(['tenant', 'delete', organisationId], env);
    expect(unconfirmed.code).toBe(2);
    expect((await events('tenant.deleted')).length).toBe(0);

    const deleted = await runCli(
      ['tenant', 'delete', organisationId, '--confirm', organisationId],
      env,
    );
    expect(deleted.code).toBe(0);
    expect(await events('tenant.deleted')).toHaveLength(1);
    const listed = await runCli(['tenant', 'list', '--json'], env);
    expect(JSON.parse(listed.stdout)).toContainEqual(
      expect.objectContaining({
        id: organisationId,
        name: 'Clinic A',
        deletedAt: expect.any(Number),
      }),
    );
    expect((await runCli(['site', 'list'], env)).stdout).not.toContain(siteId);
    // The owner belonged to no other organisation: the account went with it.
    const reuse = await runCli(
      [
        'setup',
        '--org',
        'Clinic A2',
        '--domain',
        'a2.example',
        '--email',
        'owner@clinic-a.example',
      ],
      env,
    );
    expect(reuse.code).toBe(0);
  });
});
