// Writer benchmark: the server's TenantWriter alone (no HTTP, no threads) on a real encrypted
// tenant file, fed the load generator's traffic (bench/traffic.mjs: 3,000 visitors, pageviews
// with campaign fields) enriched beforehand by the product's enricher, in groups of 40 events on
// a simulated clock of 14,000 events/s, with held session figures written as the writer thread
// does: a slice whenever one is due after a group.
//
// Three ways of writing the held figures, each on a fresh file, in the same run:
// 1. the baseline: all at once every 100 ms (the writer before the eleventh session);
// 2. slices of 256 sessions every 100 ms;
// 3. slices of 256 sessions every 1,000 ms (the default).
// Prints CPU µs per event, the longest single write of held figures, and each way's CPU against
// the baseline, then ONE JSON line of the figures. As in the server, checkpoints are apart from
// the writer's work: here one every 100 groups, its CPU counted on its own line.
//
// Usage: npm run bench:writer   (builds first; about 30 s)
// BENCH_WRITER_EVENTS sets the events per way (default 200,000).
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

import { Enricher } from '../dist/collect/enricher.js';
import { validateSiteSettings } from '../dist/domain/site.js';
import { openGeo } from '../dist/enrich/geo.js';
import { createSpamReferrerList } from '../dist/enrich/spam-referrers.js';
import { createMemoryLogger } from '../dist/log/logger.js';
import { migrate } from '../dist/store/sqlite/migrate.js';
import { openEncrypted } from '../dist/store/sqlite/open.js';
import { TENANT_MIGRATIONS } from '../dist/store/sqlite/schema.js';
import { TenantWriter } from '../dist/store/sqlite/writer.js';
import { pageview, visitor } from './traffic.mjs';

const EVENTS = Number(process.env.BENCH_WRITER_EVENTS ?? 200_000);
const GROUP = 40;
const RATE = 14_000;
const VISITORS = 3_000;

const WAYS = [
  { name: 'all at once every 100 ms (baseline)', flushMs: 100, slice: Number.MAX_SAFE_INTEGER },
  { name: 'slices of 256 every 100 ms', flushMs: 100, slice: 256 },
  { name: 'slices of 256 every 1000 ms (default)', flushMs: 1_000, slice: 256 },
];

/**
 * One enriched pageview per visitor, made by the product's own enricher (PHI firewall, bundled
 * geography, user-agent parsing, visitor hash) from the load generator's traffic: what the
 * writer thread hands its TenantWriter. Made before any measuring.
 */
async function visits(siteId) {
  const site = {
    id: siteId,
    tenantId: randomUUID(),
    name: 'Bench Clinic',
    settings: validateSiteSettings({ domains: ['localhost'] }),
    createdAt: Date.now(),
  };
  const { logger } = createMemoryLogger('warn');
  const enricher = new Enricher(await openGeo(undefined, logger), createSpamReferrerList());
  const salts = { salt: randomBytes(32), previous: null };

  return Array.from({ length: VISITORS }, (_, v) => {
    const who = visitor(v);
    const client = {
      ip: who.address,
      requestNonce: randomUUID(),
      userAgent: who.userAgent,
      secChUa: null,
      platformHint: null,
      mobileHint: null,
      now: Date.now(),
    };
    const outcome = enricher.enrichWith(site, pageview('localhost', v), client, salts);
    if (outcome.kind !== 'event')
      throw new Error(`the bench pageview was filtered: ${outcome.kind}`);

    return outcome.event;
  });
}

/** Runs one way on a fresh encrypted file; the clock is simulated through `Date.now`. */
async function run(way) {
  const dir = mkdtempSync(path.join(tmpdir(), 'lighttrail-bench-writer-'));
  const siteId = randomUUID();
  const pool = await visits(siteId);
  const realNow = Date.now;
  let now = realNow();
  // Every event of the run, each from visitor (k * 7919) % VISITORS as the load generator picks.
  const events = Array.from({ length: EVENTS }, (_, k) => {
    const event = { ...pool[(k * 7919) % VISITORS] };
    event.ts = now + Math.floor((k / RATE) * 1000);
    event.day = new Date(event.ts).toISOString().slice(0, 10);

    return event;
  });
  Date.now = () => now;
  const db = openEncrypted(path.join(dir, 'tenant.db'), randomBytes(32), { create: true });
  try {
    migrate(db, TENANT_MIGRATIONS);
    db.pragma('wal_autocheckpoint = 0');
    const writer = new TenantWriter(db, { sessionFlushMs: way.flushMs, sessionSlice: way.slice });

    const cpu = process.cpuUsage();
    let checkpoints = 0;
    let longest = 0;
    for (let i = 0; i < EVENTS; i += GROUP) {
      if (i % (GROUP * 100) === 0) {
        const before = process.cpuUsage();
        db.pragma('wal_checkpoint(PASSIVE)');
        const spent = process.cpuUsage(before);
        checkpoints += spent.user + spent.system;
      }
      const group = events.slice(i, i + GROUP);
      writer.commit(group, []);
      now += (GROUP / RATE) * 1000;
      if (!writer.sessionsDue(now)) continue;

      const started = performance.now();
      writer.writeSessionSlice();
      longest = Math.max(longest, performance.now() - started);
    }
    const used = process.cpuUsage(cpu);
    writer.flushSessions();

    return {
      name: way.name,
      cpu_us_per_event: Math.round(((used.user + used.system - checkpoints) / EVENTS) * 10) / 10,
      checkpoint_us_per_event: Math.round((checkpoints / EVENTS) * 10) / 10,
      longest_write_ms: Math.round(longest * 100) / 100,
    };
  } finally {
    Date.now = realNow;
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = [];
for (const way of WAYS) results.push(await run(way));
const baseline = results[0].cpu_us_per_event;
console.log(
  `LightTrail writer benchmark: ${EVENTS} events in groups of ${GROUP}, ${VISITORS} visitors, ` +
    `${RATE} events/s simulated, node ${process.version}`,
);
for (const r of results) {
  console.log(
    `${r.name.padEnd(40)} ${String(r.cpu_us_per_event).padStart(6)} µs CPU per event ` +
      `(checkpoints ${r.checkpoint_us_per_event} more)  ` +
      `longest write of held figures ${r.longest_write_ms} ms  ` +
      `${(r.cpu_us_per_event / baseline).toFixed(2)} of the baseline`,
  );
}
console.log(JSON.stringify({ events: EVENTS, group: GROUP, visitors: VISITORS, ways: results }));
