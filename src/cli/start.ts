import { StatsReader } from '../analytics/reader.js';
import { Collector } from '../collect/collector.js';
import { RateLimiter } from '../collect/rate-limit.js';
import { DailySalts } from '../collect/salts.js';
import { loadConfig } from '../config/load.js';
import { createProxyMatcher } from '../enrich/client-ip.js';
import { createServer } from '../server/app.js';
import { loadOrCreateCertificate } from '../server/certificate.js';
import { createMetricsRegistry } from '../server/metrics.js';
import { createRouter } from '../server/router.js';
import { COLLECT_HEADERS, collectPreflight, collectRoute } from '../server/routes/collect.js';
import { statsRoute } from '../server/routes/stats.js';
import { TRACKER_HEADERS, trackerRoute } from '../server/routes/tracker.js';
import { openTenantDb } from '../store/sqlite/tenant.js';
import { parse, type Command } from './command.js';
import { openContext, out, removePidFile, requireStopped, writePidFile } from './context.js';
import { createPipeline } from './pipeline.js';

const HOUR_MS = 3_600_000;

export const start: Command = {
  name: 'start',
  summary: 'run the HTTPS server: tracker, collect endpoint and stats API',
  help: `Usage: lighttrail start

Starts LightTrail on https://LIGHTTRAIL_HOST:LIGHTTRAIL_PORT (default https://127.0.0.1:8443)
with the encrypted embedded store in LIGHTTRAIL_DATA_DIR (default ./data). In development the
first start creates a master key file and a self-signed certificate for localhost there and
prints the certificate's SHA-256 fingerprint. SIGTERM or SIGINT drains requests in flight,
commits queued events and closes the databases.`,

  async run(argv) {
    const { values } = parse(argv, {});
    if (values.help) return (out(this.help), 0);

    const config = loadConfig();
    requireStopped(config, 'starting a second server');
    const context = await openContext({ allowGenerate: true, config });
    const { control, logger } = context;

    for (const tenant of control.listTenants()) {
      if (tenant.deletedAt === null) (await openTenantDb(control, tenant.id)).close();
    }

    const tls = await loadOrCreateCertificate(config, logger);
    const metrics = createMetricsRegistry();
    const depth = metrics.gauge('lighttrail_ingest_queue_depth', 'Events waiting for commit.');
    const commits = metrics.histogram(
      'lighttrail_ingest_commit_events',
      'Events and filtered hits per group commit.',
      { buckets: [1, 5, 10, 50, 100, 500, 1000, 5000] },
    );
    const commitSeconds = metrics.histogram(
      'lighttrail_ingest_commit_seconds',
      'Time from a group commit leaving the queue to its durable acknowledgement.',
    );

    const salts = new DailySalts(control);
    salts.rotate();
    const { enricher, queue } = await createPipeline(context, salts, {
      depth: (events) => depth.set(events),
      commit: (events, seconds) => {
        commits.observe(events);
        commitSeconds.observe(seconds);
      },
    });
    const collector = new Collector({
      control,
      queue,
      enricher,
      limiter: new RateLimiter(config.rateLimitPerSecond, config.rateLimitBurst),
      proxies: createProxyMatcher(config.trustedProxies),
      forwardedMode: config.forwardedMode,
      maxBatch: config.collectMaxBatch,
    });
    const reader = new StatsReader(control);

    const router = createRouter()
      .add('POST', '/api/collect', collectRoute(collector, config), { headers: COLLECT_HEADERS })
      .add('OPTIONS', '/api/collect', collectPreflight(), { headers: COLLECT_HEADERS })
      .add('GET', '/lt.js', trackerRoute(), { headers: TRACKER_HEADERS })
      .add('GET', '/api/sites/:siteId/stats', statsRoute(control, reader));

    let ready = false;
    const server = createServer({ config, logger, router, metrics, tls, isReady: () => ready });
    let listening: { port: number; metricsPort: number | undefined };
    try {
      listening = await server.listen();
    } catch (error) {
      await queue.close();
      control.close();
      throw error;
    }

    writePidFile(config);
    ready = true;
    const saltTimer = setInterval(() => salts.rotate(), HOUR_MS);
    saltTimer.unref();

    const host = config.host === '127.0.0.1' || config.host === '::1' ? 'localhost' : config.host;
    const hasOrganisation = control.listTenants().some((tenant) => tenant.deletedAt === null);
    out(`LightTrail is running at https://${host}:${listening.port}
  data folder      ${config.dataDir} (AES-256 encrypted)
  TLS certificate  ${tls.generated ? 'self-signed for localhost (development)' : 'configured'}
  SHA-256          ${tls.fingerprint256}${
    listening.metricsPort === undefined
      ? ''
      : `\n  metrics          http://127.0.0.1:${listening.metricsPort}/metrics`
  }
${
  hasOrganisation
    ? 'Next: npx lighttrail site list, then add the tracker to your pages.'
    : `Next: create your organisation, first site and owner account (in another terminal):
  npx lighttrail setup --org "Your Clinic" --domain www.your-clinic.example --email you@your-clinic.example`
}
Stop with Ctrl+C; queued events are committed first.`);

    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        logger.info('server.stopping', { signal });
        ready = false;
        clearInterval(saltTimer);
        void (async () => {
          await server.close();
          await queue.close();
          reader.close();
          control.close();
          removePidFile(config);
          logger.info('server.stopped', {});
          resolve();
        })();
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });

    return 0;
  },
};
