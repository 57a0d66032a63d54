import { createHmac, randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';

import type { EnrichedEvent, FilteredHit } from '../../domain/event.js';
import type { Site } from '../../domain/site.js';
import { parseIp, isNonPublic } from '../../enrich/ip.js';
import type { Enricher } from '../enricher.js';
import type { EventSink, TenantStore } from '../../store/types.js';
import { classifyRecord, type SkipReason } from './classify.js';
import type { LogFormat, LogRecord } from './parse.js';
import { readLog } from './read.js';

export interface ImportReport {
  lines: number;
  malformed: number;
  /** Line numbers of the first malformed lines, for the operator to look at. */
  malformedSamples: number[];
  pageviews: number;
  duplicates: number;
  filtered: number;
  skipped: Record<SkipReason, number>;
}

export interface ImportOptions {
  site: Site;
  file: string;
  format: LogFormat;
  queue: EventSink;
  enricher: Enricher;
  /** The tenant's store, which keeps the import deduplication key. */
  tenant: TenantStore;
  onProgress?(bytesRead: number, totalBytes: number, lines: number): void;
}

const CHUNK = 500;
const MAX_PENDING = 4;

/**
 * Streams an access log through the same enrichment and PHI firewall as live events. Each
 * successful HTML page request becomes a pageview with the log's own timestamp. A line's
 * deduplication key is a keyed hash of the line (without its address) and its occurrence
 * number, so importing the same file again, or a longer version of it, stores nothing twice.
 */
export async function importLog(options: ImportOptions): Promise<ImportReport> {
  const { site, enricher, queue } = options;
  const dedupeSecret = options.tenant.importKey();
  const host =
    site.settings.domains.find((domain) => !domain.startsWith('*.')) ??
    site.settings.domains[0]?.slice(2) ??
    'localhost';
  const report: ImportReport = {
    lines: 0,
    malformed: 0,
    malformedSamples: [],
    pageviews: 0,
    duplicates: 0,
    filtered: 0,
    skipped: { method: 0, status: 0, asset: 0, 'non-html': 0 },
  };
  const seen = new Map<string, number>();
  const pending = new Set<Promise<void>>();
  let events: EnrichedEvent[] = [];
  let filtered: FilteredHit[] = [];
  const total = statSync(options.file).size;

  const flush = async () => {
    if (events.length === 0 && filtered.length === 0) return;

    const batchEvents = events;
    const batchFiltered = filtered;
    events = [];
    filtered = [];
    const commit = queue.enqueue(site.tenantId, batchEvents, batchFiltered).then((result) => {
      report.pageviews += result.inserted;
      report.duplicates += result.duplicates;
    });
    const tracked = commit.finally(() => pending.delete(tracked));
    pending.add(tracked);
    if (pending.size >= MAX_PENDING) await Promise.race(pending);
  };

  const lines = readLog(options.file, options.format, {
    onProgress: (read) => options.onProgress?.(read, total, report.lines),
  });
  for await (const line of lines) {
    report.lines += 1;
    if (line.record === null) {
      report.malformed += 1;
      if (report.malformedSamples.length < 10) report.malformedSamples.push(line.lineNo);
      continue;
    }

    const classification = classifyRecord(line.record);
    if (classification.kind === 'skip') {
      report.skipped[classification.reason] += 1;
      continue;
    }

    const record = line.record;
    const dedupeKey = lineKey(dedupeSecret, site.id, line.raw, record.ip, seen);
    const outcome = await enricher.enrich(
      site,
      { type: 'pageview', url: record.target, referrer: record.referrer ?? undefined },
      clientOf(record),
      { ts: record.time, origin: 'import', dedupeKey, hostname: hostOf(record) ?? host },
    );
    if (outcome.kind === 'event') events.push(outcome.event);
    else {
      filtered.push(outcome.hit);
      report.filtered += 1;
    }

    if (events.length + filtered.length >= CHUNK) await flush();
  }

  await flush();
  await Promise.all(pending);

  return report;
}

function clientOf(record: LogRecord) {
  const parsed = parseIp(record.ip);

  return {
    // Loopback, private and reserved addresses say nothing about a visitor: no geography.
    ip: parsed === null || isNonPublic(parsed) ? null : record.ip,
    requestNonce: randomUUID(),
    userAgent: record.userAgent ?? '',
    secChUa: null,
    platformHint: null,
    mobileHint: null,
    now: record.time,
  };
}

function hostOf(record: LogRecord): string | null {
  if (record.host === null) return null;

  return record.host.toLowerCase().replace(/:\d+$/, '');
}

function lineKey(
  secret: Buffer,
  siteId: string,
  raw: string,
  ip: string,
  seen: Map<string, number>,
): string {
  const withoutAddress = raw.replace(ip, '');
  const base = createHmac('sha256', secret)
    .update(siteId)
    .update('\0')
    .update(withoutAddress)
    .digest('base64url');
  const occurrence = (seen.get(base) ?? 0) + 1;
  seen.set(base, occurrence);

  return `${base}.${occurrence}`;
}
