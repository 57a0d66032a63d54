// Builds the browser tracker (tracker/src/lt.ts) into dist/tracker/lt.js.
import { existsSync } from 'node:fs';

if (!existsSync('tracker/src/lt.ts')) process.exit(0);
