import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { LightTrailError } from '../../errors.js';
import type { Handler, Reply } from '../context.js';

// Loaded by every page of every customer site. Any origin may also read it through CORS, as a
// tag with Subresource Integrity (`integrity` and `crossorigin`) requires (QA: such a tag was
// blocked): the script is public, and the answer carries no credentials.
export const TRACKER_HEADERS = {
  'Cross-Origin-Resource-Policy': 'cross-origin',
  'Access-Control-Allow-Origin': '*',
};

/** Where the build puts the minified tracker (see scripts/build-tracker.mjs). */
export function trackerFile(): string {
  return fileURLToPath(new URL('../../../dist/tracker/lt.js', import.meta.url));
}

/**
 * `GET /lt.js`: the tracker, read once at start. Cached for an hour with an ETag, so a new
 * release reaches pages within the hour and unchanged copies cost a 304. A checkout whose build
 * did not finish has no tracker: refused with ERR_NOT_BUILT, so the server does not start
 * without it.
 */
export function trackerRoute(file = trackerFile()): Handler {
  let script: Buffer;
  try {
    script = readFileSync(file);
  } catch (cause) {
    throw new LightTrailError(
      'ERR_NOT_BUILT',
      `the tracker script ${file} cannot be read: run \`npm run build\``,
      { cause },
    );
  }
  const etag = `"${createHash('sha256').update(script).digest('base64url').slice(0, 27)}"`;

  return (ctx): Reply => {
    if (ctx.req.headers['if-none-match'] === etag) {
      return { status: 304, headers: { ETag: etag, 'Cache-Control': 'public, max-age=3600' } };
    }

    return {
      status: 200,
      headers: {
        'Content-Type': 'text/javascript; charset=utf-8',
        'Cache-Control': 'public, max-age=3600',
        ETag: etag,
      },
      body: script,
    };
  };
}
