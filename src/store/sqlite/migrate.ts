import { StoreError } from '../../errors.js';
import type { Db } from './open.js';

export interface Migration {
  version: number;
  name: string;
  /**
   * Columns the step adds, each only where the table lacks it, before `sql` runs: a file from
   * an intermediate version may hold them already (QA: such a file refused every start).
   */
  columns?: ReadonlyArray<{ table: string; column: string; definition: string }>;
  sql: string;
}

/**
 * Applies the migrations newer than the file's `user_version`, each in its own transaction, so a
 * failed step leaves the file at the previous version. A file newer than this code is refused.
 * Another process (the server, an import, a second command) may open the same file at the same
 * moment: each step takes the write lock first (BEGIN IMMEDIATE) and reads the version under
 * it, so a step another process has just applied is skipped, never run twice.
 */
export function migrate(db: Db, migrations: readonly Migration[]): { from: number; to: number } {
  const version = () => db.pragma('user_version', { simple: true }) as number;
  const from = version();
  const latest = migrations.at(-1)?.version ?? 0;
  if (from > latest) {
    throw new StoreError(
      'ERR_DB_MIGRATION',
      `database schema version ${from} is newer than this LightTrail (${latest})`,
    );
  }

  for (const migration of migrations) {
    if (migration.version <= from) continue;

    try {
      db.transaction(() => {
        if (version() >= migration.version) return;

        for (const { table, column, definition } of migration.columns ?? []) {
          const present = (db.pragma(`table_info(${table})`) as Array<{ name: string }>).some(
            (info) => info.name === column,
          );
          if (!present) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
        }
        db.exec(migration.sql);
        db.pragma(`user_version = ${migration.version}`);
      }).immediate();
    } catch (cause) {
      const busy = String((cause as { code?: unknown }).code ?? '').startsWith('SQLITE_BUSY');
      throw new StoreError(
        'ERR_DB_MIGRATION',
        busy
          ? `migration ${migration.version} (${migration.name}) waited too long for another ` +
              'process using the file (perhaps migrating it): try again once it is done'
          : `migration ${migration.version} (${migration.name}) failed: ${reason(cause)}`,
        cause,
      );
    }
  }

  return { from, to: Math.max(from, latest) };
}

/** SQLite's reason on one line: it names tables and columns, never a row's values. */
function reason(cause: unknown): string {
  const message = cause instanceof Error ? cause.message : String(cause);

  return message.replace(/\s*\n\s*/g, '; ');
}
