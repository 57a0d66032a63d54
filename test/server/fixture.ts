import { loadConfig } from '../../src/config/load.js';
import { createMemoryLogger } from '../../src/log/logger.js';
import { createServer, type ServerTimeouts } from '../../src/server/app.js';
import { createMetricsRegistry, type MetricsRegistry } from '../../src/server/metrics.js';
import { createRouter, type Router } from '../../src/server/router.js';
import { makeCertificate, makeTempDir, type TestCertificate } from '../helpers/tls.js';

/** A real LightTrail HTTPS server on 127.0.0.1 with a free port, for one test file or test. */
export interface TestServer {
  port: number;
  metricsPort: number | undefined;
  ca: string;
  lines: string[];
  metrics: MetricsRegistry;
  close: () => Promise<void>;
  inFlight: () => number;
  /** Sockets the HTTPS listener holds open right now. */
  connections: () => number;
}

export interface TestServerOptions {
  routes?: (router: Router) => void;
  env?: Record<string, string>;
  isReady?: () => boolean;
  timeouts?: Partial<ServerTimeouts>;
  certificate?: TestCertificate;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const temp = makeTempDir();
  const config = loadConfig({
    env: { LIGHTTRAIL_DATA_DIR: temp.dir, LIGHTTRAIL_PORT: '0', ...options.env },
    cwd: temp.dir,
  });
  const { logger, lines } = createMemoryLogger('debug');
  const router = createRouter();
  options.routes?.(router);
  const metrics = createMetricsRegistry();
  const certificate = options.certificate ?? makeCertificate('ec');
  const server = createServer({
    config,
    logger,
    router,
    metrics,
    tls: certificate,
    isReady: options.isReady,
    timeouts: options.timeouts,
  });
  const { port, metricsPort } = await server.listen();

  return {
    port,
    metricsPort,
    ca: certificate.cert,
    lines,
    metrics,
    inFlight: server.inFlight,
    connections: server.connections,
    close: async () => {
      await server.close();
      temp.remove();
    },
  };
}

/** Log records written about requests (`http.request`), parsed. */
export function requestLines(lines: string[]): Array<Record<string, unknown>> {
  return lines
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((record) => record.event === 'http.request');
}
