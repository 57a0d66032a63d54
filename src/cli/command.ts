import { parseArgs, type ParseArgsConfig } from 'node:util';

import { LightTrailError } from '../errors.js';

export interface Command {
  name: string;
  summary: string;
  /** Full help text shown by `lighttrail <name> --help`. */
  help: string;
  run(argv: string[]): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

type Values<T extends Options> = {
  [K in keyof T]?: T[K]['type'] extends 'boolean'
    ? boolean
    : T[K]['multiple'] extends true
      ? string[]
      : string;
} & { help?: boolean };

/**
 * parseArgs with `--help` built in and usage errors turned into ERR_USAGE. `maxPositionals` is
 * the most words the command takes besides options (an action and an id, say): one more is
 * refused rather than ignored, since it is most likely an option without its dashes (QA).
 */
export function parse<const T extends Options>(
  argv: string[],
  options: T,
  maxPositionals = 0,
): { values: Values<T>; positionals: string[] } {
  refuseRepeats(argv, Object.keys(options));
  let parsed: { values: Values<T>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      // Counted below, so that every command refuses an extra word in the same words.
      allowPositionals: true,
      strict: true,
    }) as unknown as { values: Values<T>; positionals: string[] };
  } catch (cause) {
    // Node's own wording goes on (about positionals after `--`, or on further lines about how
    // to pass a value starting with a dash): the first sentence says it all.
    const first = (cause as Error).message.split(/(?<=\.)\s/)[0] ?? 'invalid arguments';
    let message = first.replace(/\.$/, '');
    // `--limit -5`: the value looks like an option; say how to give it (QA).
    const ambiguous = /^Option '(--[\w-]+)' argument is ambiguous$/.exec(message);
    if (ambiguous !== null) {
      message += `: a value there, or one that begins with "-" written as ${ambiguous[1]}=VALUE`;
    }
    throw new LightTrailError('ERR_USAGE', `${message} (see --help)`, { status: 400, cause });
  }

  // The extra word is not repeated: it may be a value that belongs nowhere on a screen.
  if (parsed.positionals.length > maxPositionals) {
    const most =
      maxPositionals === 0
        ? 'none'
        : maxPositionals === 1
          ? 'at most one'
          : `at most ${maxPositionals}`;
    throw usage(`too many arguments: ${most} besides options (see --help)`);
  }

  return parsed;
}

/**
 * An option given twice is refused: taken last without a word, `--site A --site B` read one
 * site's figures for the other's (QA), as the stats API refuses a repeated parameter.
 */
function refuseRepeats(argv: readonly string[], names: readonly string[]): void {
  const seen = new Set<string>();
  for (const arg of argv) {
    if (arg === '--') return;

    const name = /^--([\w-]+)/.exec(arg)?.[1];
    if (name === undefined || !names.includes(name)) continue;
    if (seen.has(name)) throw usage(`--${name} is given more than once (see --help)`);

    seen.add(name);
  }
}

/** An unknown site; a missing id is a usage mistake, not an unknown site. */
export function siteNotFound(id: string | undefined): LightTrailError {
  if (id === undefined) return usage('a site ID is needed (see --help)');

  return new LightTrailError('ERR_SITE_NOT_FOUND', `no site ${id}`, { status: 404 });
}

export function usage(message: string): LightTrailError {
  return new LightTrailError('ERR_USAGE', message, { status: 400 });
}
