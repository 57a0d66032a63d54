import { randomBytes } from 'node:crypto';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { migrate } from '../../src/store/sqlite/migrate.js';
import { openEncrypted } from '../../src/store/sqlite/open.js';
import { TENANT_MIGRATIONS } from '../../src/store/sqlite/schema.js';
import { StatsThread } from '../../src/store/sqlite/stats-thread.js';
import type { ControlStore } from '../../src/store/types.js';
import { tempDir } from '../helpers/temp.js';

describe('the statistics thread', () => {
  let cleanup: () => void;
  let thread: StatsThread;
  let file: string;

  beforeEach(() => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    file = path.join(temp.dir, 'tenant.db');
    const key = randomBytes(32);
    const db = openEncrypted(file, key, { create: true });
    migrate(db, TENANT_MIGRATIONS);
    db.close();
    // The two things the thread asks of the control store: where the file is, and its key.
    const control = {
      tenantKey: () => Promise.resolve({ version: 1, key }),
      tenantFile: () => file,
    } as unknown as ControlStore;
    thread = new StatsThread(control);
  });

  afterEach(() => {
    thread.close();
    cleanup();
  });

  const query = { siteId: 'site-1', from: '2026-12-01', to: '2026-12-04' };

  it('answers a stopped thread question with a retryable 503, and starts a new thread', async () => {
    const asked = thread.stats('tenant-1', query);
    await new Promise((resolve) => setTimeout(resolve, 0));
    thread.close();

    await expect(asked).rejects.toMatchObject({
      code: 'ERR_STORE_UNAVAILABLE',
      status: 503,
      headers: { 'Retry-After': '5' },
    });
    const again = await thread.stats('tenant-1', query);
    expect(again.totals).toMatchObject({ visitors: 0, pageviews: 0 });
  });

  it('reports a file that does not open with its key as damaged', async () => {
    const wrong = new StatsThread({
      tenantKey: () => Promise.resolve({ version: 1, key: randomBytes(32) }),
      tenantFile: () => file,
    } as unknown as ControlStore);
    try {
      await expect(wrong.stats('tenant-1', query)).rejects.toMatchObject({
        code: 'ERR_DB_CORRUPT',
      });
    } finally {
      wrong.close();
    }
  });
});
