import { LightTrailError } from '../errors.js';
import { createApiKey } from '../identity/api-keys.js';
import { parse, usage, type Command } from './command.js';
import { openContext, out } from './context.js';

export const apikey: Command = {
  name: 'apikey',
  summary: "create an API key that reads one site's statistics",
  help: `Usage: lighttrail apikey create --site ID [--json]

Creates a key scoped to reading the statistics of one site. The token is shown once; only a
hash of it is stored. Send it as "Authorization: Bearer <token>".`,

  async run(argv) {
    const { values, positionals } = parse(
      argv,
      { site: { type: 'string' }, json: { type: 'boolean' } },
      true,
    );
    if (values.help) return (out(this.help), 0);
    if (positionals[0] !== 'create' || !values.site)
      throw usage('expected "apikey create --site ID"');

    const { control } = await openContext();
    try {
      const { token, record } = createApiKey(control, values.site as string, 'cli:apikey');
      if (values.json) {
        out(
          JSON.stringify({ keyId: record.id, siteId: record.siteId, scope: record.scope, token }),
        );
      } else {
        out(`API key ${record.id} for site ${record.siteId} (scope ${record.scope}).
Token (shown once, store it in a secret manager):

    ${token}`);
      }

      return 0;
    } finally {
      control.close();
    }
  },
};
