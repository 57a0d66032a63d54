// A second same-run reference for bench/ingest.mjs: the bare server of baseline-server.mjs plus
// durability and nothing else. Each body is parsed, appended to one file as a line, and answered
// once an fdatasync covers it; requests that arrive while one group is written form the next
// (group commit on the request thread). No validation, encryption, enrichment or headers: the
// gap between it and the bare server is what durable writes cost by themselves, and the gap
// between it and the product is the product's own work.
//
// Usage: node bench/durable-server.mjs <cert.pem> <key.pem> <data file>   (prints "port <n>")
import { fdatasyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:https';

import { tlsServerOptions } from '../dist/server/tls.js';

const LIMIT = 65_536;

const [certFile, keyFile, dataFile] = process.argv.slice(2);
const tls = tlsServerOptions({ cert: readFileSync(certFile), key: readFileSync(keyFile) });
const fd = openSync(dataFile, 'a');
let group = [];

function commit() {
  const answered = group;
  group = [];
  writeSync(fd, answered.map((waiting) => waiting.line).join(''));
  fdatasyncSync(fd);
  for (const { res, events } of answered) answer(res, 200, { ok: true, stored: events });
}

function answer(res, status, reply) {
  const body = JSON.stringify(reply);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

const server = createServer({ ...tls, keepAliveTimeout: 5_000 }, (req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size <= LIMIT) chunks.push(chunk);
  });
  req.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    let payload;
    try {
      payload = JSON.parse(text);
    } catch {
      answer(res, 400, { error: { code: 'ERR_INVALID_JSON', message: 'body is not valid JSON' } });
      return;
    }

    const events = Array.isArray(payload.events) ? payload.events.length : 1;
    group.push({ res, events, line: `${JSON.stringify(payload)}\n` });
    if (group.length === 1) setImmediate(commit);
  });
});

server.listen(0, '127.0.0.1', () => process.stdout.write(`port ${server.address().port}\n`));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
