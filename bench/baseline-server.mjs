// The same-run baselines for bench/ingest.mjs: a bare node:https server with the product's TLS
// policy and certificate that reads the body (same 64 KB ceiling), parses the same JSON, counts
// the events and answers in the collect endpoint's shape. No validation, enrichment, queue or
// disk: the gap between it and the product is what LightTrail's own work costs.
//
// Given a data file it is the durable reference instead: the same, plus each body appended to the
// file as a line and answered once an fdatasync covers it; requests that arrive while one group
// is written form the next (group commit on the request thread). The gap between the two is what
// durable writes cost by themselves.
//
// Usage: node bench/baseline-server.mjs <cert.pem> <key.pem> [<data file>]
//        (prints "port <n>" when listening)
import { fdatasyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:https';

import { tlsServerOptions } from '../dist/server/tls.js';

const LIMIT = 65_536;

const [certFile, keyFile, dataFile] = process.argv.slice(2);
const tls = tlsServerOptions({ cert: readFileSync(certFile), key: readFileSync(keyFile) });
const fd = dataFile === undefined ? null : openSync(dataFile, 'a');
let group = [];

function answer(res, status, reply) {
  const body = JSON.stringify(reply);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

function commit() {
  const answered = group;
  group = [];
  writeSync(fd, answered.map((waiting) => waiting.line).join(''));
  fdatasyncSync(fd);
  for (const { res, reply } of answered) answer(res, 200, reply);
}

const server = createServer({ ...tls, keepAliveTimeout: 5_000 }, (req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size <= LIMIT) chunks.push(chunk);
  });
  req.on('end', () => {
    let payload;
    try {
      payload = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      answer(res, 400, { error: { code: 'ERR_INVALID_JSON', message: 'body is not valid JSON' } });
      return;
    }

    const events = Array.isArray(payload.events) ? payload.events.length : 1;
    const reply = { ok: true, stored: events, filtered: 0 };
    if (fd === null) {
      answer(res, 200, reply);
      return;
    }

    group.push({ res, reply, line: `${JSON.stringify(payload)}\n` });
    if (group.length === 1) setImmediate(commit);
  });
});

server.listen(0, '127.0.0.1', () => process.stdout.write(`port ${server.address().port}\n`));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
