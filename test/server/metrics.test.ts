import { request as httpRequest } from 'node:http';
import { createServer as createNetServer, connect as netConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  createMetricsRegistry,
  MAX_SERIES,
  METRICS_CONTENT_TYPE,
} from '../../src/server/metrics.js';
import { send } from '../helpers/tls.js';
import { startTestServer, type TestServer } from './fixture.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * A strict reader of text format 0.0.4: every sample line must parse and belong to a metric
 * whose HELP and TYPE came first. Returns the samples; throws on any line it cannot read.
 */
function parseExposition(text: string): Sample[] {
  const typed = new Map<string, string>();
  const helped = new Set<string>();
  const samples: Sample[] = [];
  expect(text.endsWith('\n')).toBe(true);

  for (const line of text.trimEnd().split('\n')) {
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$/.exec(line);
    if (help?.[1] !== undefined) {
      helped.add(help[1]);
      continue;
    }

    if (type?.[1] !== undefined && type[2] !== undefined) {
      expect(helped.has(type[1]), `HELP before TYPE for ${type[1]}`).toBe(true);
      typed.set(type[1], type[2]);
      continue;
    }

    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (sample?.[1] === undefined || sample[3] === undefined)
      throw new Error(`unreadable line: ${line}`);

    const base = sample[1].replace(/_(bucket|sum|count)$/, '');
    expect(typed.has(sample[1]) || typed.get(base) === 'histogram', `TYPE for ${sample[1]}`).toBe(
      true,
    );
    const labels: Record<string, string> = {};
    for (const [, key, value] of (sample[2] ?? '').matchAll(
      /([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g,
    )) {
      if (key !== undefined && value !== undefined) labels[key] = value;
    }

    const value = sample[3] === '+Inf' ? Infinity : Number(sample[3]);
    expect(Number.isNaN(value), line).toBe(false);
    samples.push({ name: sample[1], labels, value });
  }

  return samples;
}

function valueOf(
  samples: Sample[],
  name: string,
  labels: Record<string, string>,
): number | undefined {
  return samples.find(
    (sample) =>
      sample.name === name &&
      Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  )?.value;
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));

  return typeof address === 'object' && address !== null ? address.port : 0;
}

function plainGet(
  host: string,
  port: number,
  path: string,
): Promise<{ status: number; type: string; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host, port, path, agent: false }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('metrics registry', () => {
  it('renders counters, gauges and histograms in text format 0.0.4', () => {
    const registry = createMetricsRegistry();
    const counter = registry.counter('demo_total', 'Demo count\nwith a \\ in help.', {
      labelNames: ['route'],
    });
    const gauge = registry.gauge('demo_depth', 'Depth.');
    const histogram = registry.histogram('demo_seconds', 'Time.', {
      labelNames: ['kind'],
      buckets: [0.1, 1],
    });

    counter.inc({ route: '/a/:id' });
    counter.inc({ route: '/a/:id' }, 2);
    counter.inc({ route: 'say "hi"\\\n' });
    gauge.set(7);
    gauge.dec(undefined, 2);
    histogram.observe(0.05, { kind: 'x' });
    histogram.observe(0.5, { kind: 'x' });
    histogram.observe(3, { kind: 'x' });

    expect(registry.render()).toBe(
      [
        '# HELP demo_total Demo count\\nwith a \\\\ in help.',
        '# TYPE demo_total counter',
        'demo_total{route="/a/:id"} 3',
        'demo_total{route="say \\"hi\\"\\\\\\n"} 1',
        '# HELP demo_depth Depth.',
        '# TYPE demo_depth gauge',
        'demo_depth 5',
        '# HELP demo_seconds Time.',
        '# TYPE demo_seconds histogram',
        'demo_seconds_bucket{kind="x",le="0.1"} 1',
        'demo_seconds_bucket{kind="x",le="1"} 2',
        'demo_seconds_bucket{kind="x",le="+Inf"} 3',
        'demo_seconds_sum{kind="x"} 3.55',
        'demo_seconds_count{kind="x"} 3',
        '',
      ].join('\n'),
    );
    expect(parseExposition(registry.render())).toHaveLength(8);
  });

  it('shares a metric registered twice the same way, and refuses a conflicting one', () => {
    const registry = createMetricsRegistry();
    const depth = registry.gauge('lighttrail_ingest_queue_depth', 'Events waiting.');
    const again = registry.gauge('lighttrail_ingest_queue_depth', 'Events waiting.');

    expect(again).toBe(depth);
    expect(() => registry.counter('lighttrail_ingest_queue_depth', 'x')).toThrow(/another kind/);
    expect(() =>
      registry.gauge('lighttrail_ingest_queue_depth', 'x', { labelNames: ['a'] }),
    ).toThrow(/another kind/);
    expect(() => registry.counter('bad-name', 'x')).toThrow(/bad metric name/);
    expect(() => registry.counter('ok_total', 'x', { labelNames: ['le'] })).toThrow(/bad label/);
    expect(() => registry.histogram('h', 'x', { buckets: [1, 1] })).toThrow(/ascending/);
    const counter = registry.counter('c_total', 'x', { labelNames: ['a'] });
    expect(() => counter.inc({ b: '1' })).toThrow(/takes labels/);
    expect(() => counter.inc({ a: '1' }, -1)).toThrow(/cannot go down/);
  });

  it('reads a collect-time gauge at render, and stops adding series past the cap', () => {
    const registry = createMetricsRegistry();
    let queue = 3;
    registry.gauge('lighttrail_ingest_queue_depth', 'Events waiting.', {
      collect: (gauge) => gauge.set(queue),
    });
    const counter = registry.counter('flood_total', 'x', { labelNames: ['v'] });
    for (let index = 0; index < MAX_SERIES + 50; index++) counter.inc({ v: String(index) });

    expect(registry.render()).toContain('lighttrail_ingest_queue_depth 3\n');
    queue = 9;
    const samples = parseExposition(registry.render());
    expect(valueOf(samples, 'lighttrail_ingest_queue_depth', {})).toBe(9);
    expect(samples.filter((sample) => sample.name === 'flood_total')).toHaveLength(MAX_SERIES);
  });
});

describe('/metrics on the HTTPS port', () => {
  const token = 'metrics-token-0123456789abcdef-0123456789';
  let server: TestServer;
  let closed: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ env: { LIGHTTRAIL_METRICS_TOKEN: token } });
    closed = await startTestServer();
  });

  afterAll(async () => {
    await server.close();
    await closed.close();
  });

  it('refuses a missing, wrong or non-Bearer token with 401 ERR_UNAUTHENTICATED', async () => {
    const attempts: Array<Record<string, string>> = [
      {},
      { Authorization: `Bearer ${token}x` },
      { Authorization: `Bearer ${token.slice(0, -1)}` },
      { Authorization: `Basic ${Buffer.from(`user:${token}`).toString('base64')}` },
      { Authorization: token },
      { Authorization: 'Bearer ' },
    ];
    for (const headers of attempts) {
      const response = await send(server.port, { path: '/metrics', headers, ca: server.ca });

      expect(response.status).toBe(401);
      expect(JSON.parse(response.text).error.code).toBe('ERR_UNAUTHENTICATED');
      expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(response.text).not.toContain('lighttrail_');
    }

    expect(server.lines.join('\n')).not.toContain(token);
  });

  it('serves parseable metrics with the token, and the counts go up', async () => {
    const auth = { Authorization: `Bearer ${token}` };
    const first = await send(server.port, { path: '/metrics', headers: auth, ca: server.ca });
    await send(server.port, { path: '/healthz', ca: server.ca });
    await send(server.port, { path: '/healthz', ca: server.ca });
    await send(server.port, { path: '/no/such/page', ca: server.ca });
    const second = await send(server.port, { path: '/metrics', headers: auth, ca: server.ca });

    expect(first.status).toBe(200);
    expect(second.headers['content-type']).toBe(METRICS_CONTENT_TYPE);
    const before = parseExposition(first.text);
    const after = parseExposition(second.text);
    const health = { method: 'GET', route: '/healthz', status: '200' };
    const requests = 'lighttrail_http_requests_total';
    expect((valueOf(after, requests, health) ?? 0) - (valueOf(before, requests, health) ?? 0)).toBe(
      2,
    );
    expect(
      valueOf(after, requests, { route: '(unmatched)', status: '404' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      valueOf(after, 'lighttrail_errors_total', { code: 'ERR_NOT_FOUND' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      valueOf(after, 'lighttrail_errors_total', { code: 'ERR_UNAUTHENTICATED' }),
    ).toBeGreaterThanOrEqual(6);
    expect(
      valueOf(after, 'lighttrail_http_request_duration_seconds_count', {
        method: 'GET',
        route: '/healthz',
      }),
    ).toBeGreaterThanOrEqual(2);
    expect(second.text).toContain('# TYPE lighttrail_http_request_duration_seconds histogram');
    expect(second.text).not.toContain('no/such');
  });

  it('does not exist when no token is configured', async () => {
    const response = await send(closed.port, {
      path: '/metrics',
      headers: { Authorization: 'Bearer anything' },
      ca: closed.ca,
    });
    const unknown = await send(closed.port, { path: '/no-such-path', ca: closed.ca });

    expect(response.status).toBe(404);
    expect(response.text).toBe(unknown.text);
  });
});

describe('metrics on the loopback port', () => {
  let server: TestServer;

  beforeAll(async () => {
    // A port free a moment ago may be taken by another test file's server meanwhile: try again.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        server = await startTestServer({ env: { LIGHTTRAIL_METRICS_PORT: String(port) } });
        return;
      } catch (error) {
        if (attempt === 3 || (error as { code?: string }).code !== 'ERR_PORT_IN_USE') throw error;
      }
    }
  });

  afterAll(async () => {
    await server.close();
  });

  it('answers plain HTTP on 127.0.0.1 without a token, and only /metrics', async () => {
    const port = server.metricsPort ?? 0;
    const metrics = await plainGet('127.0.0.1', port, '/metrics');
    const other = await plainGet('127.0.0.1', port, '/healthz');

    expect(port).toBeGreaterThan(0);
    expect(metrics.status).toBe(200);
    expect(metrics.type).toBe(METRICS_CONTENT_TYPE);
    expect(parseExposition(metrics.text).length).toBeGreaterThan(0);
    expect(other.status).toBe(404);
  });

  it('is not reachable on ::1 (bound to 127.0.0.1 only)', async () => {
    const port = server.metricsPort ?? 0;
    const outcome = await new Promise<string>((resolve) => {
      const socket = netConnect({ host: '::1', port }, () => {
        socket.destroy();
        resolve('connected');
      });
      socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });

    expect(outcome).not.toBe('connected');
    expect(['ECONNREFUSED', 'EADDRNOTAVAIL', 'ENETUNREACH', 'EAFNOSUPPORT']).toContain(outcome);
  });
});
