// The tracker's build: its size budget (every page of every customer site downloads lt.js),
// its refusals, and what the bundle may not contain.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BUILD_SCRIPT } from '../helpers/tracker-site.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const BUDGET = 2048;

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lt-tracker-build-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function runBuild(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BUILD_SCRIPT, ...args], { encoding: 'utf8' });

  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('build-tracker', () => {
  test('the built lt.js is at most 2,048 bytes gzipped, and the build says how big it is', () => {
    const outfile = join(dir, 'sized', 'lt.js');
    const result = runBuild('--outfile', outfile);

    expect(result.status).toBe(0);
    const code = readFileSync(outfile);
    const gzipped = gzipSync(code, { level: 9 }).length;
    expect(gzipped).toBeLessThanOrEqual(BUDGET);
    expect(result.stdout).toContain(
      `lt.js: ${code.length} bytes raw, ${gzipped} bytes gzip (budget ${BUDGET})`,
    );
  });

  test('an unknown option is refused (exit 1) with the usage, nothing written', () => {
    const outfile = join(dir, 'unknown', 'lt.js');
    const result = runBuild('--outfile', outfile, '--minify-less');

    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^build-tracker: .*\nusage: /);
    expect(existsSync(outfile)).toBe(false);
  });

  test('an over-budget bundle fails the build (exit 1) and writes nothing', () => {
    const outfile = join(dir, 'over', 'lt.js');
    const result = runBuild('--outfile', outfile, '--max-gzip', '100');

    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/over its gzip budget/);
    expect(existsSync(outfile)).toBe(false);
    expect(existsSync(dirname(outfile))).toBe(false);
  });

  test.each(['0', '-5', 'abc', '1.5'])(
    'a budget of "%s" is refused (exit 1), nothing written',
    (budget) => {
      const outfile = join(dir, `budget-${budget}`, 'lt.js');
      const result = runBuild('--outfile', outfile, `--max-gzip=${budget}`);

      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/--max-gzip must be a positive integer/);
      expect(existsSync(outfile)).toBe(false);
    },
  );
});

describe('the bundle', () => {
  let code: string;

  beforeAll(() => {
    const outfile = join(dir, 'bundle', 'lt.js');
    expect(runBuild('--outfile', outfile).status).toBe(0);
    code = readFileSync(outfile, 'utf8');
  });

  test('is one classic script: no import or export, nothing leaks to the global scope', () => {
    expect(() => new Script(code)).not.toThrow();
    expect(code).toMatch(/^"use strict";\(\(\)=>\{[\s\S]*\}\)\(\);\s*$/);
  });

  test('touches no cookie, storage or fingerprinting API', () => {
    const apis = [
      ['cookie', 'localStorage', 'sessionStorage', 'indexedDB', 'caches'],
      ['getContext', 'toDataURL', 'userAgent', 'userAgentData', 'platform', 'plugins'],
      ['hardwareConcurrency', 'deviceMemory', 'getBattery', 'RTCPeerConnection', 'AudioContext'],
      ['webdriver', 'enumerateDevices', 'XMLHttpRequest', 'eval'],
    ].flat();
    const forbidden = new RegExp(`\\b(${apis.join('|')})\\b`);

    expect(code.match(forbidden)?.[0]).toBeUndefined();
  });

  test('the source type-checks against ES2017 and the DOM alone', () => {
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const result = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tracker/tsconfig.json')], {
      encoding: 'utf8',
    });

    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
