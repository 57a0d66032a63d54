import { randomBytes } from 'node:crypto';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { migrate, type Migration } from '../../src/store/sqlite/migrate.js';
import { openEncrypted, type Db } from '../../src/store/sqlite/open.js';
import { tempDir } from '../helpers/temp.js';

const MIGRATIONS: Migration[] = [
  { version: 1, name: 'visits', sql: 'CREATE TABLE visits (id INTEGER PRIMARY KEY, n INTEGER)' },
  { version: 2, name: 'double', sql: 'UPDATE visits SET n = n * 2' },
];

describe('schema migrations', () => {
  let cleanup: () => void;
  let file: string;
  let key: Buffer;

  beforeEach(() => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    file = path.join(temp.dir, 'tenant.db');
    key = randomBytes(32);
  });

  afterEach(() => cleanup());

  it('skips a step another process applied after this one read the version', () => {
    const first = openEncrypted(file, key, { create: true });
    migrate(first, MIGRATIONS.slice(0, 1));
    first.prepare('INSERT INTO visits (n) VALUES (21)').run();

    // This process read version 1; meanwhile another one applied step 2.
    const second = openEncrypted(file, key);
    let reads = 0;
    const stale = new Proxy(second, {
      get(target, name, receiver) {
        if (name !== 'pragma') return Reflect.get(target, name, receiver) as unknown;

        return (sql: string, options?: { simple?: boolean }) =>
          sql === 'user_version' && reads++ === 0 ? 1 : target.pragma(sql, options);
      },
    }) as Db;
    migrate(first, MIGRATIONS);

    expect(migrate(stale, MIGRATIONS)).toEqual({ from: 1, to: 2 });
    // Run once, not twice.
    expect(second.prepare('SELECT n FROM visits').pluck().get()).toBe(42);
    expect(second.pragma('user_version', { simple: true })).toBe(2);

    first.close();
    second.close();
  });

  it('refuses a file newer than the code, and leaves a failed step undone', () => {
    const db = openEncrypted(file, key, { create: true });
    migrate(db, MIGRATIONS);

    expect(() => migrate(db, MIGRATIONS.slice(0, 1))).toThrow(
      expect.objectContaining({ code: 'ERR_DB_MIGRATION' }),
    );

    const broken: Migration = {
      version: 3,
      name: 'half',
      sql: 'UPDATE visits SET n = 1; SELECT * FROM missing_table',
    };
    db.prepare('INSERT INTO visits (n) VALUES (5)').run();
    // The message says why, in SQLite's words (QA: it said only "failed").
    expect(() => migrate(db, [...MIGRATIONS, broken])).toThrow(
      expect.objectContaining({
        code: 'ERR_DB_MIGRATION',
        message: 'migration 3 (half) failed: no such table: missing_table',
      }),
    );
    expect(db.prepare('SELECT n FROM visits').pluck().get()).toBe(5);
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    db.close();
  });
});
