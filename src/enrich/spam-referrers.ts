import { readFileSync, statSync } from 'node:fs';

/**
 * Referrer spam: sites that send fake hits so their name shows up in analytics reports. A hit
 * whose referrer is on the list is filtered, not counted (C15 (d)). Entries match the domain and
 * every subdomain of it (`semalt.com` also catches `www.semalt.com`, `x.semalt.com`).
 *
 * The built-in list is short and stable; operators extend it without a redeploy by writing one
 * domain per line to `<dataDir>/spam-referrers.txt` (`#` starts a comment). The file is re-read
 * when its modification time or size changes, checked at most every `checkIntervalMs`.
 */
export const BUILT_IN_SPAM_REFERRERS: readonly string[] = [
  '4webmasters.org',
  '7makemoneyonline.com',
  'aio.online',
  'best-seo-offer.com',
  'best-seo-solution.com',
  'blackhatworth.com',
  'buttons-for-website.com',
  'buttons-for-your-website.com',
  'cenoval.ru',
  'darodar.com',
  'econom.co',
  'event-tracking.com',
  'floating-share-buttons.com',
  'free-share-buttons.com',
  'free-social-buttons.com',
  'get-free-traffic-now.com',
  'hulfingtonpost.com',
  'ilovevitaly.co',
  'ilovevitaly.com',
  'ilovevitaly.info',
  'ilovevitaly.org',
  'ilovevitaly.ru',
  'kambasoft.com',
  'o-o-6-o-o.com',
  'o-o-8-o-o.com',
  'priceg.com',
  'rank-checker.online',
  'savetubevideo.com',
  'semalt.com',
  'share-buttons.xyz',
  'simple-share-buttons.com',
  'site-auditor.online',
  'social-buttons.com',
  'success-seo.com',
  'traffic2money.com',
  'trafficmonetize.org',
  'videos-for-your-business.com',
  'webmonetizer.net',
];

export interface SpamReferrerList {
  /** True when `host` (a host or registrable domain) is a listed domain or under one. */
  isSpam(host: string): boolean;
  /** Number of entries currently loaded, built-in plus file. */
  readonly size: number;
}

const HOSTNAME = /^[a-z0-9-]+(?:\.[a-z0-9-]+)+$/;

/** Reads one entry: lower case, `*.`, a leading dot and a trailing dot dropped; junk skipped. */
function entryOf(line: string): string | null {
  const text = line
    .replace(/#.*/, '')
    .trim()
    .toLowerCase()
    .replace(/^\*?\./, '')
    .replace(/\.$/, '');

  return HOSTNAME.test(text) ? text : null;
}

export function parseSpamList(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map(entryOf)
    .filter((entry): entry is string => entry !== null);
}

function stamp(file: string): string | null {
  try {
    const stats = statSync(file);

    return `${stats.mtimeMs}:${stats.size}`;
  } catch {
    return null;
  }
}

/**
 * Builds the spam list, optionally extended from `extraFile`. A missing file means no extra
 * entries, not an error: the operator may never create it.
 *
 * @example
 * const spam = createSpamReferrerList(join(config.dataDir, 'spam-referrers.txt'));
 * spam.isSpam('www.semalt.com'); // true
 */
export function createSpamReferrerList(
  extraFile?: string,
  opts: { checkIntervalMs?: number; now?: () => number } = {},
): SpamReferrerList {
  const builtIn = new Set(BUILT_IN_SPAM_REFERRERS);
  const interval = opts.checkIntervalMs ?? 5_000;
  const now = opts.now ?? Date.now;
  let extra = new Set<string>();
  let loadedStamp: string | null = null;
  let checkedAt = -Infinity;

  const refresh = (): void => {
    if (extraFile === undefined || now() - checkedAt < interval) return;

    checkedAt = now();
    const current = stamp(extraFile);
    if (current === loadedStamp) return;

    loadedStamp = current;
    try {
      extra = new Set(current === null ? [] : parseSpamList(readFileSync(extraFile, 'utf8')));
    } catch {
      extra = new Set();
    }
  };

  const listed = (name: string): boolean => builtIn.has(name) || extra.has(name);

  return {
    get size() {
      refresh();

      return builtIn.size + [...extra].filter((entry) => !builtIn.has(entry)).length;
    },
    isSpam(host) {
      refresh();
      let name = host.toLowerCase().replace(/\.$/, '');
      while (name.includes('.')) {
        if (listed(name)) return true;

        name = name.slice(name.indexOf('.') + 1);
      }

      return false;
    },
  };
}
