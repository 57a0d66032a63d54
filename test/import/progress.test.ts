import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The bar is driven in a child process whose stdout is a real terminal: util-linux `script`
// allocates a pseudo-terminal, so `isTTY`, `columns` and the tty's own line discipline are the
// real ones. The same child with a pipe for stdout stands for cron and CI.

const CLEAR = '\x1b[K';

type Step = [at: number, done: number, lines?: number];
interface Plan {
  total: number;
  steps?: Step[];
  /** Clock value at `done()`; omitted = never call `done()`. */
  finishAt?: number;
  /** Update in a tight loop on the real clock for this long instead of following `steps`. */
  spinMs?: number;
}

const PROGRESS_MODULE = join(process.cwd(), 'src/collect/import/progress.ts');
const DRIVER = `
import { createProgressBar } from ${JSON.stringify(PROGRESS_MODULE)};
const plan = JSON.parse(process.env.PLAN);
if (plan.spinMs !== undefined) {
  const bar = createProgressBar(process.stdout, plan.total);
  const end = Date.now() + plan.spinMs;
  let n = 0;
  while (Date.now() < end) bar.update(++n % plan.total, n);
  bar.done();
} else {
  let clock = 0;
  const bar = createProgressBar(process.stdout, plan.total, { now: () => clock });
  for (const [at, done, lines] of plan.steps) {
    clock = at;
    bar.update(done, lines);
  }
  if (plan.finishAt !== undefined) {
    clock = plan.finishAt;
    bar.done();
    bar.done();
    bar.update(1, 1);
  }
}
`;

let dir: string;
let driver: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lt-progress-'));
  driver = join(dir, 'driver.mjs');
  await writeFile(join(dir, 'driver.ts'), DRIVER);
  await build({
    entryPoints: [join(dir, 'driver.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile: driver,
    logLevel: 'silent',
  });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function inTerminal(plan: Plan, columns?: number): string {
  const size = columns === undefined ? '' : `stty cols ${columns}; `;
  const run = spawnSync(
    'script',
    ['-qfec', `${size}"${process.execPath}" "${driver}"`, '/dev/null'],
    {
      env: { ...process.env, PLAN: JSON.stringify(plan) },
      encoding: 'utf8',
    },
  );
  expect(run.status).toBe(0);

  return run.stdout;
}

/** What a person sees: each `\r` starts a redraw; the terminal turned `\n` into `\r\n`. */
function frames(output: string): string[] {
  return output
    .split('\r')
    .map((f) => f.split(CLEAR).join('').replace(/\n/g, ''))
    .filter((f) => f !== '');
}

const STEPS: Step[] = [
  [0, 0, 0],
  [50, 100, 500],
  [100, 200, 1000],
  [150, 500, 1500],
  [190, 1000, 2000],
];

describe('progress bar in a terminal', () => {
  it('shows percent, lines and rate, redraws at most every 100 ms, and ends the line', () => {
    const out = inTerminal({ total: 1000, steps: STEPS, finishAt: 200 });

    expect(frames(out)).toEqual([
      'Importing   0.0% [------------------------------]  0 lines  0 lines/s',
      'Importing  20.0% [######------------------------]  1,000 lines  10,000 lines/s',
      'Importing 100.0% [##############################]  2,000 lines  10,000 lines/s',
    ]);
    expect(out.endsWith('\r\n')).toBe(true);
    // done() twice and update() after done() drew nothing more: one line end, three redraws.
    expect(out.match(/\n/g)).toHaveLength(1);
    expect(out.split(CLEAR)).toHaveLength(4);
  });

  it('shows bytes and MB/s when it is given no line count', () => {
    const steps: Step[] = [
      [0, 0],
      [500, 5_000_000],
    ];
    const out = inTerminal({ total: 10_000_000, steps, finishAt: 1000 });

    expect(frames(out)).toEqual([
      'Importing   0.0% [------------------------------]  0.0 MB  0.0 MB/s',
      'Importing  50.0% [###############---------------]  5.0 MB  10.0 MB/s',
      'Importing  50.0% [###############---------------]  5.0 MB  5.0 MB/s',
    ]);
  });

  it('fits a narrow terminal by dropping the bar, then the rate, never wrapping', () => {
    const plan = { total: 1000, steps: STEPS, finishAt: 200 };

    expect(frames(inTerminal(plan, 60))[2]).toBe(
      'Importing 100.0% [###########]  2,000 lines  10,000 lines/s',
    );
    expect(frames(inTerminal(plan, 40))).toEqual([
      'Importing   0.0%  0 lines  0 lines/s',
      'Importing  20.0%  1,000 lines',
      'Importing 100.0%  2,000 lines',
    ]);
    expect(frames(inTerminal(plan, 12))).toEqual(['0.0%', '20.0%', '100.0%']);
  });

  it('stays within ten redraws a second on the real clock', () => {
    const count = frames(inTerminal({ total: 1_000_000, spinMs: 350 })).length;

    // Draws at 0, 100, 200 and 300 ms, then done(): 5. One more allows for a slow start.
    expect(count).toBeGreaterThanOrEqual(2);
    expect(count).toBeLessThanOrEqual(6);
  });
});

describe('progress bar without a terminal', () => {
  it('writes nothing at all to a pipe', () => {
    for (const plan of [
      { total: 1000, steps: STEPS, finishAt: 200 },
      { total: 1000, spinMs: 150 },
    ]) {
      const run = spawnSync(process.execPath, [driver], {
        env: { ...process.env, PLAN: JSON.stringify(plan) },
        encoding: 'utf8',
      });

      expect(run.status).toBe(0);
      expect(run.stdout).toBe('');
      expect(run.stderr).toBe('');
    }
  });
});
