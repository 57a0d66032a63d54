#!/usr/bin/env node
// Entry point of the `lighttrail` command; the CLI itself is compiled TypeScript in dist/.
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';

// node:crypto's one-shot `hash` (the visitor id, the rate limit) arrived in Node.js 20.12 and
// 21.7: an older runtime would fail to load the CLI with a linker error naming neither.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 12) || (major === 21 && minor < 7)) {
  process.stderr.write(
    'lighttrail: ERR_NODE_VERSION: Node.js 20.12 or later (21.7 or later on 21) is needed; ' +
      `this is ${process.versions.node}\n`,
  );
  process.exit(1);
}

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write(
    'lighttrail: not built yet. Run `npm install` (or `npm run build`) first.\n',
  );
  process.exit(1);
}

const { run } = await import(main.href);
process.exitCode = await run(process.argv.slice(2));
