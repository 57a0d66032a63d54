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

  it('answers a closed thread question with a retryable 503, then starts anew', async () => {
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

  /** Organisation A with enough events that each of its queries takes a while; B is `file`. */
  function withBigOrganisation(options: { threads: number }, events = 100_000): StatsThread {
    const bigFile = path.join(path.dirname(file), 'big.db');
    const bigKey = randomBytes(32);
    const db = openEncrypted(bigFile, bigKey, { create: true });
    migrate(db, TENANT_MIGRATIONS);
    db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
       INSERT INTO events (site_id, ts, day, type, hostname, path, channel, visitor_id, session_id)
       SELECT 'site-1', 0, '2026-12-02', 'pageview', 'a.example', '/p/' || (i % 500), 'Direct',
              'v' || (i % 20000), 's' || (i % 30000)
       FROM n`,
    ).run(events - 1);
    db.close();

    return new StatsThread(
      {
        tenantKey: (id: string) =>
          Promise.resolve({ version: 1, key: id === 'A' ? bigKey : tenantKey }),
        tenantFile: (id: string) => (id === 'A' ? bigFile : file),
      } as unknown as ControlStore,
      options,
    );
  }

  it("takes organisations in turn: one's long queries do not all go before another's", async () => {
    const one = withBigOrganisation({ threads: 1 });
    const order: string[] = [];
    const ask = (tenantId: string, label: string) =>
      one.stats(tenantId, query).then(() => order.push(label));
    try {
      const a1 = ask('A', 'A1');
      const a2 = ask('A', 'A2');
      const a3 = ask('A', 'A3');
      await new Promise((resolve) => setTimeout(resolve, 10));
      const b1 = ask('B', 'B1');
      await Promise.all([a1, a2, a3, b1]);
    } finally {
      one.close();
    }

    expect(order.indexOf('B1')).toBeLessThan(order.indexOf('A3'));
    expect(order.filter((label) => label.startsWith('A'))).toEqual(['A1', 'A2', 'A3']);
  });

  it("with two threads, answers one organisation while another's long query runs", async () => {
    // A query long enough (about a second) that a busy machine cannot reorder the answers.
    const two = withBigOrganisation({ threads: 2 }, 400_000);
    const order: string[] = [];
    const ask = (tenantId: string, label: string) =>
      two.stats(tenantId, query).then(() => order.push(label));
    try {
      // Both threads started, so B's question does not wait for a thread to boot.
      await Promise.all([ask('B', 'warm-1'), ask('B', 'warm-2')]);
      const a1 = ask('A', 'A1');
      await new Promise((resolve) => setTimeout(resolve, 10));
      await ask('B', 'B1');
      // B was answered on the other thread while A's query was still running.
      expect(order).not.toContain('A1');
      await a1;
    } finally {
      two.close();
    }

    expect(order.slice(2)).toEqual(['B1', 'A1']);
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
