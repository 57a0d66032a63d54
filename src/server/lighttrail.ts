import path from 'node:path';

import { StatsReader } from '../analytics/reader.js';
import { Collector } from '../collect/collector.js';
import type { PreparerOptions } from '../collect/prepare.js';
import { Enricher } from '../collect/enricher.js';

import { RateLimiter } from '../collect/rate-limit.js';
import { DailySalts, type VisitorSalts } from '../collect/salts.js';
import type { Config } from '../config/settings.js';
import { createProxyMatcher } from '../enrich/client-ip.js';
import { openGeo } from '../enrich/geo.js';
import { createSpamReferrerList } from '../enrich/spam-referrers.js';
import { compiledUrl } from '../dist-path.js';
import type { Logger } from '../log/logger.js';
import { IngestQueue } from '../store/sqlite/queue.js';
import { StatsThread } from '../store/sqlite/stats-thread.js';
import { checkTenantFile } from '../store/sqlite/tenant.js';
import type { ControlStore, EventSink, QueueObserver } from '../store/types.js';
import { createServer, type LightTrailServer } from './app.js';
import { API_SECURITY_HEADERS } from './headers.js';
import { loadOrCreateCertificate, type CertificateMaterial } from './certificate.js';
import { createMetricsRegistry, type MetricsRegistry } from './metrics.js';
import { createRouter } from './router.js';
import { COLLECT_HEADERS, collectPreflight, collectRoute } from './routes/collect.js';
import { statsRoute } from './routes/stats.js';
import { TRACKER_HEADERS, trackerRoute } from './routes/tracker.js';

const HOUR_MS = 3_600_000;
const IMPORT_GROUP = 500;
const IMPORT_REST_MS = 10;

/**
 * Reads every file through once, so damage shows at the start, not in a request later. A damaged
 * control file stops the start: nothing can be served without it. A damaged organisation file
 * (its own key does not open it, it is empty, or a page fails its check) is set aside: that
 * organisation's beacons and statistics answer 503 and nothing is written into the file until it
 * is restored and the server restarted, while every other organisation is served.
 */
async function checkTenantFiles(control: ControlStore, logger: Logger): Promise<Set<string>> {
  control.check();
  const damaged = new Set<string>();
  for (const tenant of control.listTenants()) {
    if (tenant.deletedAt !== null) continue;

    try {
      // Read-only: a damaged file and its WAL stay as they are for whoever restores them.
      await checkTenantFile(control, tenant.id);
    } catch (error) {
      // Not the file's fault: the data folder's owner or mode is wrong, for every organisation.
      if ((error as { code?: string }).code === 'ERR_DATA_ACCESS') throw error;

      damaged.add(tenant.id);
      logger.error('store.tenant_damaged', {
        tenantId: tenant.id,
        organisation: tenant.name,
        code: (error as { code?: string }).code ?? 'ERR_INTERNAL',
        message: (error as Error).message,
        advice:
          "restore this organisation's file from a backup and restart; until then its beacons " +
          'and statistics answer 503, nothing is written into its file, and the other ' +
          'organisations are served as usual',
      });
      continue;
    }

    // Sound: brought to the current schema (a migration that fails stops the start).
    (await control.openTenant(tenant.id)).close();
  }

  return damaged;
}

export interface PipelineParts {
  enricher: Enricher;
  queue: EventSink;
}

/**
 * The collection pipeline of the log import: enrichment in this thread, and a queue whose
 * transactions stay short and leave the files free in between, because a running server may be
 * writing the same organisation's file (each transaction at most `IMPORT_GROUP` rows, then a
 * pause of `IMPORT_REST_MS`: the server's writer gets the lock within milliseconds).
 */
export async function createPipeline(
  options: { config: Config; logger: Logger; control: ControlStore },
  salts: VisitorSalts,
  observer?: QueueObserver,
): Promise<PipelineParts> {
  const { config, logger, control } = options;
  const geo = await openGeo(config.geoipDb, logger);
  const spam = createSpamReferrerList(path.join(config.dataDir, 'spam-referrers.txt'));
  const queue = new IngestQueue({
    control,
    logger,
    maxDepth: config.queueMax,
    intervalMs: Math.max(config.commitIntervalMs, IMPORT_REST_MS),
    eagerSize: Number.MAX_SAFE_INTEGER,
    maxGroup: IMPORT_GROUP,
    observer,
  });

  return { enricher: new Enricher(geo, spam, salts), queue };
}

export interface LightTrail {
  server: LightTrailServer;
  tls: CertificateMaterial;
  metrics: MetricsRegistry;
  queue: EventSink;
  listen(): Promise<{ port: number; metricsPort: number | undefined }>;
  /** Drains requests, commits queued events, closes readers; the control store stays open. */
  close(): Promise<void>;
}

/**
 * Assembles the running product from an open control store: TLS material, the pipeline, the
 * routes and the HTTPS server. `lighttrail start` calls this; so do the end-to-end tests.
 */
export async function createLightTrail(options: {
  config: Config;
  logger: Logger;
  control: ControlStore;
}): Promise<LightTrail> {
  const { config, logger, control } = options;
  const damaged = await checkTenantFiles(control, logger);

  const tls = await loadOrCreateCertificate(config, logger);
  // Read before any thread starts: a start refused from here on leaves nothing running.
  const tracker = trackerRoute();
  const metrics = createMetricsRegistry();
  const depth = metrics.gauge('lighttrail_ingest_queue_depth', 'Events waiting for commit.');
  // A scrape before the first beacon sees an empty queue, not a missing series.
  depth.set(0);
  metrics
    .gauge(
      'lighttrail_tenants_unavailable',
      'Organisations whose file was found damaged at start: not served until restored.',
    )
    .set(damaged.size);
  const commits = metrics.histogram(
    'lighttrail_ingest_commit_events',
    'Events and filtered hits per group commit.',
    { buckets: [1, 5, 10, 50, 100, 500, 1000, 5000] },
  );
  const commitSeconds = metrics.histogram(
    'lighttrail_ingest_commit_seconds',
    'Time from a group commit leaving the queue to its durable acknowledgement.',
  );

  const misconfigured = metrics.counter(
    'lighttrail_collect_proxy_misconfigured_total',
    'Times a loopback visitor address was seen (reported at most every ten minutes).',
  );

  const salts = new DailySalts(control);
  salts.rotate();
  // The PHI firewall and the rest of enrichment run on the writer thread, on each request's
  // events just before they commit: see src/collect/prepare.ts.
  const queue = new IngestQueue({
    control,
    logger,
    maxDepth: config.queueMax,
    intervalMs: config.commitIntervalMs,
    gatherMs: config.commitGatherMs,
    // Session figures may wait this long in the writer's memory (see TenantWriter); every
    // statistics read replays the events behind them (overlayHeldSessions).
    sessionFlushMs: config.sessionFlushMs,
    unavailable: damaged,
    observer: {
      depth: (events) => depth.set(events),
      commit: (events, seconds) => {
        commits.observe(events);
        commitSeconds.observe(seconds);
      },
    },
    preparer: {
      module: compiledUrl(import.meta.url, '../collect/prepare.ts').href,
      options: {
        geoipDb: config.geoipDb,
        spamFile: path.join(config.dataDir, 'spam-referrers.txt'),
      } satisfies PreparerOptions,
    },
  });
  // Threads run from here on: a start refused now (TLS material the HTTPS server rejects, say)
  // must stop them, or the process would stay up without serving.
  try {
    const collector = new Collector({
      control,
      queue,
      salts,
      limiter: new RateLimiter(config.rateLimitPerSecond, config.rateLimitBurst),
      proxies: createProxyMatcher(config.trustedProxies),
      forwardedMode: config.forwardedMode,
      maxBatch: config.collectMaxBatch,
      onMisconfiguredProxy: () => {
        logger.warn('collect.proxy_misconfigured', {
          advice:
            'visitor addresses arrive as loopback: the reverse proxy in front of LightTrail is ' +
            'not in LIGHTTRAIL_TRUSTED_PROXIES, sends no X-Forwarded-For (or Forwarded) header, ' +
            'or forwards its own address. Such events get no geography and are not merged into ' +
            'visitors.',
        });
        misconfigured.inc();
      },
      onRateLimited: (requests) => {
        logger.warn('collect.rate_limited', {
          requests,
          advice:
            'clients sent events faster than LIGHTTRAIL_RATE_LIMIT allows: each such request ' +
            'was answered 429 with Retry-After (request lines at debug level)',
        });
      },
    });
    // Statistics run on a thread of their own: a year of a busy site takes seconds to read.
    const reader = new StatsReader(control, new StatsThread(control), damaged, logger);

    const router = createRouter()
      .add('POST', '/api/collect', collectRoute(collector, config), {
        headers: COLLECT_HEADERS,
        securityHeaders: API_SECURITY_HEADERS,
        quietSuccess: true,
      })
      .add('OPTIONS', '/api/collect', collectPreflight(collector), { headers: COLLECT_HEADERS })
      .add('GET', '/lt.js', tracker, { headers: TRACKER_HEADERS })
      .add('GET', '/api/sites/:siteId/stats', statsRoute(control, reader));

    let ready = false;
    // Not ready once the writer thread has died: every collect would answer 503 until a restart.
    const server = createServer({
      config,
      logger,
      router,
      metrics,
      tls,
      isReady: () => ready && queue.healthy,
    });
    const saltTimer = setInterval(() => salts.rotate(), HOUR_MS);
    saltTimer.unref();

    return {
      server,
      tls,
      metrics,
      queue,
      async listen() {
        const listening = await server.listen();
        ready = true;

        return listening;
      },
      async close() {
        ready = false;
        clearInterval(saltTimer);
        await server.close();
        collector.close();
        await queue.close();
        reader.close();
      },
    };
  } catch (error) {
    await queue.close().catch(() => undefined);
    throw error;
  }
}
