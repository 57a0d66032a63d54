/**
 * A one-line progress bar for `lighttrail import`, drawn in place with `\r`. It writes nothing at
 * all unless the stream is a terminal, so a cron job's mail or a CI log never fills with redraws,
 * and it redraws at most every `intervalMs` (100 ms) however often it is updated: a fast import
 * calls `update` per 64 KB chunk, and a terminal repainting that often slows the import itself.
 *
 * It shows counts only, never a line's content: the log holds visitors' addresses.
 *
 * @example
 * const bar = createProgressBar(process.stderr, totalBytes);
 * for await (const line of readLog(file, format, { onProgress: (n) => bar.update(n, lines) })) {
 *   lines += 1;
 * }
 * bar.done();
 */
export interface ProgressBar {
  /** `done` is in the unit of `total` (bytes); `lines`, if given, is shown with a lines/s rate. */
  update(done: number, lines?: number): void;
  /** Draws the final state and ends the line. Later calls do nothing. */
  done(): void;
}

export interface ProgressBarOptions {
  label?: string;
  intervalMs?: number;
  /** Clock in milliseconds; tests may pass their own. */
  now?: () => number;
}

const SILENT: ProgressBar = Object.freeze({ update: () => undefined, done: () => undefined });
const CLEAR_TO_END = '\x1b[K';
const MAX_BAR = 30;

/** Returns a bar that draws on `stream` when it is a TTY, and a silent one otherwise. */
export function createProgressBar(
  stream: NodeJS.WriteStream,
  total: number,
  options: ProgressBarOptions = {},
): ProgressBar {
  if (stream.isTTY !== true) return SILENT;

  const now = options.now ?? Date.now;
  const interval = options.intervalMs ?? 100;
  const label = options.label ?? 'Importing';
  const started = now();
  let lastDraw = -Infinity;
  let state = { done: 0, lines: undefined as number | undefined };
  let finished = false;

  const draw = (): void => {
    const text = render(label, total, state.done, state.lines, now() - started, stream.columns);
    stream.write(`\r${text}${CLEAR_TO_END}`);
    lastDraw = now();
  };

  return {
    update(done, lines) {
      if (finished) return;

      state = { done, lines };
      if (now() - lastDraw >= interval) draw();
    },
    done() {
      if (finished) return;

      finished = true;
      draw();
      stream.write('\n');
    },
  };
}

/**
 * One frame, never wider than the terminal: a line that wraps breaks `\r` redrawing. As the
 * width shrinks the bar goes first, then the rate, the amount and the label.
 */
function render(
  label: string,
  total: number,
  done: number,
  lines: number | undefined,
  elapsedMs: number,
  columns: number | undefined,
): string {
  const ratio = total > 0 ? Math.min(Math.max(done / total, 0), 1) : 1;
  const percent = `${(ratio * 100).toFixed(1)}%`;
  const head = `${label} ${percent.padStart(6)}`;
  const seconds = Math.max(elapsedMs, 1) / 1000;
  const [amount, rate] =
    lines === undefined
      ? [`${formatMb(done)} MB`, `${formatMb(done / seconds)} MB/s`]
      : [`${count(lines)} lines`, `${count(Math.round(lines / seconds))} lines/s`];

  // A pseudo-terminal without a window size reports 0 columns.
  const width = (columns !== undefined && columns > 0 ? columns : 80) - 1;
  const tail = `  ${amount}  ${rate}`;
  const barWidth = Math.min(MAX_BAR, width - head.length - tail.length - 3);
  if (barWidth >= 5) {
    const filled = Math.round(ratio * barWidth);
    return `${head} [${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}]${tail}`;
  }

  const fits = [`${head}${tail}`, `${head}  ${amount}`, head, percent];

  return fits.find((f) => f.length <= width) ?? '';
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

function formatMb(bytes: number): string {
  return (bytes / 1_000_000).toFixed(1);
}
