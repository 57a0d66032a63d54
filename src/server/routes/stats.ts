import type { StatsReader } from '../../analytics/reader.js';
import { authenticateApiKey, STATS_READ } from '../../identity/api-keys.js';
import { RequestError } from '../../errors.js';
import type { ControlStore } from '../../store/types.js';
import type { Handler, Reply } from '../context.js';

const PARAMETERS: ReadonlySet<string> = new Set(['from', 'to', 'limit']);

/**
 * `GET /api/sites/:siteId/stats?from=YYYY-MM-DD&to=YYYY-MM-DD&limit=N` with an API key (`limit`:
 * rows per top list, 10 by default, at most 1,000). A key reads only
 * its own site: any other site id, existing or not, is the same 404 (no existence oracle, C23).
 */
export function statsRoute(control: ControlStore, reader: StatsReader): Handler {
  return async (ctx): Promise<Reply> => {
    const key = authenticateApiKey(control, header(ctx.req.headers.authorization));
    if (key.scope !== STATS_READ || key.siteId !== ctx.params.siteId) {
      throw new RequestError('ERR_NOT_FOUND', 404, 'not found');
    }

    for (const name of new Set(ctx.query.keys())) {
      if (!PARAMETERS.has(name) || ctx.query.getAll(name).length > 1) {
        throw new RequestError(
          'ERR_INVALID_ARGUMENT',
          400,
          'only from, to and limit, once each, are accepted',
        );
      }
    }

    const from = ctx.query.get('from') ?? undefined;
    const to = ctx.query.get('to') ?? undefined;
    const limit = ctx.query.get('limit') ?? undefined;

    return { status: 200, json: await reader.stats(key.siteId, { from, to, limit }) };
  };
}

function header(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
