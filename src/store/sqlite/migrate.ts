import { StoreError } from '../../errors.js';
import type { Db } from './open.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * Applies the migrations newer than the file's `user_version`, each in its own transaction, so a
 * failed step leaves the file at the previous version. A file newer than this code is refused.
 */
export function migrate(db: Db, migrations: readonly Migration[]): { from: number; to: number } {
  const from = db.pragma('user_version', { simple: true }) as number;
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
        db.exec(migration.sql);
        db.pragma(`user_version = ${migration.version}`);
      })();
    } catch (cause) {
      throw new StoreError(
        'ERR_DB_MIGRATION',
        `migration ${migration.version} (${migration.name}) failed`,
        cause,
      );
    }
  }

  return { from, to: Math.max(from, latest) };
}
