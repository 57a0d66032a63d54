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
  let tenantKey: Buffer;
  // The two things the thread asks of the control store: where the file is, and its key.
  const control = (key?: Buffer) =>
    ({
      tenantKey: () => Promise.resolve({ version: 1, key: key ?? tenantKey }),
      tenantFile: () => file,
    }) as unknown as ControlStore;

  beforeEach(() => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    file = path.join(temp.dir, 'tenant.db');
    const key = randomBytes(32);
    const db = openEncrypted(file, key, { create: true });
    migrate(db, TENANT_MIGRATIONS);
    db.close();
    tenantKey = key;
    thread = new StatsThread(control());
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

  it('refuses a question beyond the queue with a retryable 503, at once', async () => {
    const small = new StatsThread(control(), { maxWaiting: 1 });
    try {
      const first = small.stats('tenant-1', query);
      await expect(small.stats('tenant-1', query)).rejects.toMatchObject({
        code: 'ERR_STORE_UNAVAILABLE',
        status: 503,
      });
      expect((await first).totals).toMatchObject({ pageviews: 0 });
    } finally {
      small.close();
    }
  });

  it('stops a thread that overruns: its questions get a 503, the next one an answer', async () => {
    // Shorter than the thread takes to start: the first question always overruns.
    const hasty = new StatsThread(control(), { timeoutMs: 1 });
    try {
      await expect(hasty.stats('tenant-1', query)).rejects.toMatchObject({
        code: 'ERR_STORE_UNAVAILABLE',
        status: 503,
      });
    } finally {
      hasty.close();
    }
  });

  it('reports a file that does not open with its key as damaged', async () => {
    const wrong = new StatsThread(control(randomBytes(32)));
    try {
      await expect(wrong.stats('tenant-1', query)).rejects.toMatchObject({
        code: 'ERR_DB_CORRUPT',
      });
    } finally {
      wrong.close();
    }
  });
});
