#!/usr/bin/env node
// Entry point of the `lighttrail` command; the CLI itself is compiled TypeScript in dist/.
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write(
    'lighttrail: not built yet. Run `npm install` (or `npm run build`) first.\n',
  );
  process.exit(1);
}

const { run } = await import(main.href);
process.exitCode = await run(process.argv.slice(2));
