import { setTimeout as sleep } from 'node:timers/promises';

import { afterEach, describe, expect, it } from 'vitest';

import type { EnrichedEvent } from '../../src/domain/event.js';
import { createMemoryLogger } from '../../src/log/logger.js';
import { IngestQueue } from '../../src/store/sqlite/queue.js';
import { enrichedEvent } from '../helpers/events.js';
import { useTenantFile } from '../helpers/tenant-file.js';

function pageview(n: number): EnrichedEvent {
  return enrichedEvent({
    siteId: 'site-1',
    ts: Date.UTC(2026, 11, 4, 12) + n * 1000,
    path: `/gather/${n}`,
    visitorId: `visitor-${n % 7}`,
  });
}

// Under load the request thread hands events to the writer at most once per `gatherMs`, so a
// commit carries the events of that time, not of one turn of the event loop.
describe('gathering requests between hand-overs to the writer', () => {
  const tenant = useTenantFile();
  let queue: IngestQueue | undefined;

  afterEach(async () => {
    await queue?.close();
    queue = undefined;
  });

  /** A queue that records each commit's size and when each enqueue was answered. */
  function open(gatherMs: number) {
    const commits: number[] = [];
    const { logger } = createMemoryLogger('warn');
    queue = new IngestQueue({
      control: tenant.control,
      logger,
      maxDepth: 10_000,
      intervalMs: 0,
      gatherMs,
      observer: { depth: () => undefined, commit: (events) => commits.push(events) },
    });

    return { queue, commits };
  }

  /** Five single-event requests 20 ms apart, after a first one that opens the tenant. */
  async function trickle(q: IngestQueue) {
    await q.enqueue('tenant-1', [pageview(0)]);
    const started = performance.now();
    const answered: Array<Promise<number>> = [];
    for (let n = 1; n <= 5; n++) {
      answered.push(q.enqueue('tenant-1', [pageview(n)]).then(() => performance.now() - started));
      await sleep(20);
    }

    return Promise.all(answered);
  }

  it('commits what arrives within the gathering time as one group', async () => {
    const { queue: q, commits } = open(1000);

    const times = await trickle(q);

    // The first request after the opening one waited for 1 s since that hand-over; the four
    // behind it joined its group instead of committing one by one.
    expect(commits).toEqual([1, 5]);
    expect(Math.max(...times) - Math.min(...times)).toBeLessThan(50);
  });

  it('hands a request over at once after a quiet spell', async () => {
    const { queue: q, commits } = open(1000);
    await q.enqueue('tenant-1', [pageview(0)]);
    await sleep(1100);

    const started = performance.now();
    await q.enqueue('tenant-1', [pageview(1)]);

    expect(performance.now() - started).toBeLessThan(500);
    expect(commits).toEqual([1, 1]);
  });

  it('without gathering, requests apart in time commit apart', async () => {
    const { queue: q, commits } = open(0);

    await trickle(q);

    expect(commits).toEqual([1, 1, 1, 1, 1, 1]);
  });
});
