// Builds the browser tracker (tracker/src/lt.ts) into dist/tracker/lt.js, the file the server
// serves as /lt.js, and enforces its size budget: every page of every customer site downloads it.
//
// Usage: node scripts/build-tracker.mjs [--outfile <path>] [--max-gzip <bytes>]
//   --outfile   where to write the bundle (default dist/tracker/lt.js, from the repo root)
//   --max-gzip  size budget in gzipped bytes (default 2048)
// Exits 1, writing nothing, when the bundle is over budget or fails to build.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const usage = 'usage: node scripts/build-tracker.mjs [--outfile <path>] [--max-gzip <bytes>]';
let values;
try {
  ({ values } = parseArgs({
    options: {
      outfile: { type: 'string', default: resolve(root, 'dist/tracker/lt.js') },
      'max-gzip': { type: 'string', default: '2048' },
    },
  }));
} catch (error) {
  console.error(`build-tracker: ${error.message}\n${usage}`);
  process.exit(1);
}

const outfile = resolve(values.outfile);
const maxGzip = Number(values['max-gzip']);

if (!Number.isInteger(maxGzip) || maxGzip <= 0) {
  console.error(
    `build-tracker: --max-gzip must be a positive integer, got "${values['max-gzip']}"`,
  );
  process.exit(1);
}

let code;
try {
  const result = await build({
    entryPoints: [resolve(root, 'tracker/src/lt.ts')],
    tsconfig: resolve(root, 'tracker/tsconfig.json'),
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2017',
    platform: 'browser',
    charset: 'utf8',
    legalComments: 'none',
    write: false,
    logLevel: 'error',
  });
  code = result.outputFiles[0].contents;
} catch {
  // esbuild has already printed the diagnostics.
  process.exit(1);
}

const gzipBytes = gzipSync(code, { level: 9 }).length;
console.log(`lt.js: ${code.length} bytes raw, ${gzipBytes} bytes gzip (budget ${maxGzip})`);

if (gzipBytes > maxGzip) {
  console.error(`build-tracker: lt.js is ${gzipBytes - maxGzip} bytes over its gzip budget`);
  process.exit(1);
}

mkdirSync(dirname(outfile), { recursive: true });
writeFileSync(outfile, code);
