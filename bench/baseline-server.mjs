// The same-run baseline for bench/ingest.mjs: a bare node:https server with the product's TLS
// policy and certificate that reads the body (same 64 KB ceiling), parses the same JSON, counts
// the events and answers in the collect endpoint's shape. No validation, enrichment, queue or
// disk: the gap between it and the product is what LightTrail's own work costs.
//
// Usage: node bench/baseline-server.mjs <cert.pem> <key.pem>   (prints "port <n>" when listening)
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';

import { tlsServerOptions } from '../dist/server/tls.js';

const LIMIT = 65_536;

const [certFile, keyFile] = process.argv.slice(2);
const tls = tlsServerOptions({ cert: readFileSync(certFile), key: readFileSync(keyFile) });

const server = createServer({ ...tls, keepAliveTimeout: 5_000 }, (req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size <= LIMIT) chunks.push(chunk);
  });
  req.on('end', () => {
    let status = 200;
    let answer;
    try {
      const payload = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const events = Array.isArray(payload.events) ? payload.events.length : 1;
      answer = { ok: true, stored: events, filtered: 0 };
    } catch {
      status = 400;
      answer = { error: { code: 'ERR_INVALID_JSON', message: 'body is not valid JSON' } };
    }

    const body = JSON.stringify(answer);
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(body);
  });
});

server.listen(0, '127.0.0.1', () => process.stdout.write(`port ${server.address().port}\n`));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
