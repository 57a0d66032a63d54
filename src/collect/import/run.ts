import { createHmac, randomUUID } from 'node:crypto';

import type { EnrichedEvent, FilteredHit } from '../../domain/event.js';
import { hostAllowed, type Site } from '../../domain/site.js';
import { pageHostname } from '../../enrich/url.js';
import { LightTrailError } from '../../errors.js';
import { parseIp, isNonPublic } from '../../enrich/ip.js';
import type { Enricher } from '../enricher.js';
import type { EventSink, TenantStore } from '../../store/types.js';
import { classifyRecord, type SkipReason } from './classify.js';
import type { LogFormat, LogRecord } from './parse.js';
import { openLogFile, readLog } from './read.js';

export interface ImportReport {
  lines: number;
  malformed: number;
  /** Line numbers of the first malformed lines, for the operator to look at. */
  malformedSamples: number[];
  pageviews: number;
  duplicates: number;
  filtered: number;
  /** Why lines were not pageviews: the import rule's reasons, plus `foreign-host` (an absolute
   *  request target for another host, as a forward proxy logs it) and `future` (a timestamp more
   *  than a day ahead of this machine's clock). */
  skipped: Record<SkipReason | 'foreign-host' | 'future', number>;
  /** Set when `signal` stopped the import before the end of the file (see ImportOptions). */
  interrupted?: true;
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
  /**
   * Stops the import at the next line: what was read is committed and reported, and the same
   * import run again adds the rest (its lines' keys say what is in already).
   */
  signal?: AbortSignal;
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
    skipped: { method: 0, status: 0, asset: 0, 'non-html': 0, 'foreign-host': 0, future: 0 },
  };
  const seen = new Map<string, number>();
  const pending = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  let events: EnrichedEvent[] = [];
  let filtered: FilteredHit[] = [];
  const total = await inspectFile(options.file);
  const latest = Date.now() + 86_400_000;

  const flush = async () => {
    if (events.length === 0 && filtered.length === 0) return;

    const batchEvents = events;
    const batchFiltered = filtered;
    events = [];
    filtered = [];
    const commit = queue.enqueue(site.tenantId, batchEvents, batchFiltered).then(
      (result) => {
        report.pageviews += result.inserted;
        report.duplicates += result.duplicates;
        // Counted now, not before: a bot hit imported before is not counted again.
        report.filtered += result.filtered;
      },
      // Kept for the caller: chunks committed before it stay, and a second run skips them.
      (error: unknown) => {
        failure ??= { error };
      },
    );
    const tracked = commit.finally(() => pending.delete(tracked));
    pending.add(tracked);
    if (pending.size >= MAX_PENDING) await Promise.race(pending);
    if (failure !== undefined) throw failure.error;
  };

  const lines = readLog(options.file, options.format, {
    onProgress: (read) => options.onProgress?.(read, total, report.lines),
  });
  for await (const line of lines) {
    if (options.signal?.aborted === true) {
      report.interrupted = true;
      break;
    }

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
    if (record.time > latest) {
      report.skipped.future += 1;
      continue;
    }

    // A proxy request for another host, or a virtual host's line for another site: not ours.
    // A Host value that names no host at all (a forged header) is no site's either.
    const absolute = /^https?:\/\//i.test(record.target);
    const lineHost = absolute ? pageHostname(record.target) : hostOf(record);
    if (
      (absolute || record.host !== null) &&
      (lineHost === null || !hostAllowed(site.settings, lineHost))
    ) {
      report.skipped['foreign-host'] += 1;
      continue;
    }
    const dedupeKey = lineKey(dedupeSecret, site.id, line.raw, record.ip, seen);
    const outcome = await enricher.enrich(
      site,
      { type: 'pageview', url: record.target, referrer: record.referrer ?? undefined },
      clientOf(record),
      { ts: record.time, origin: 'import', dedupeKey, hostname: lineHost ?? host },
    );
    if (outcome.kind === 'event') events.push(outcome.event);
    else filtered.push(outcome.hit);

    if (events.length + filtered.length >= CHUNK) await flush();
  }

  await flush();
  await Promise.all(pending);
  if (failure !== undefined) throw failure.error;
  if (report.lines > 0 && report.malformed === report.lines) {
    throw new LightTrailError(
      'ERR_IMPORT_FORMAT',
      `no line of the file reads as ${options.format}: is it another format?`,
      { status: 400 },
    );
  }

  return report;
}

/** Compressed logs start with a magic number; reading them as text would only yield junk. */
const COMPRESSED: ReadonlyArray<[string, number[]]> = [
  ['gzip', [0x1f, 0x8b]],
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['zip', [0x50, 0x4b, 0x03, 0x04]],
];

/** The file's size, refusing what cannot be an access log before a line is read. */
async function inspectFile(file: string): Promise<number> {
  const { handle, totalBytes: size } = await openLogFile(file);
  const head = Buffer.alloc(8);
  try {
    await handle.read(head, 0, head.length, 0);
  } catch (cause) {
    throw new LightTrailError('ERR_IMPORT_READ', 'reading the log file failed', { cause });
  } finally {
    await handle.close();
  }

  for (const [kind, magic] of COMPRESSED) {
    if (magic.every((byte, index) => head[index] === byte)) {
      throw new LightTrailError(
        'ERR_IMPORT_FORMAT',
        `the file is ${kind}-compressed: decompress it first`,
        { status: 400 },
      );
    }
  }

  return size;
}

function clientOf(record: LogRecord) {
  const parsed = parseIp(record.ip);

  return {
    // Loopback, private and reserved addresses say nothing about a visitor: no geography.
    ip: parsed === null || isNonPublic(parsed) ? null : record.ip,
    requestNonce: randomUUID(),
    userAgent: record.userAgent ?? '',
    userAgentUnknown: !record.userAgentLogged,
    secChUa: null,
    platformHint: null,
    mobileHint: null,
    now: record.time,
  };
}

/** The line's Host as a page's hostname (no port, lower case), or null if it names none. */
function hostOf(record: LogRecord): string | null {
  if (record.host === null || !/^[^\s/?#@\\]+$/.test(record.host)) return null;

  return pageHostname(`http://${record.host}/`);
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
