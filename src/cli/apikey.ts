import { LightTrailError } from '../errors.js';
import { createApiKey } from '../identity/api-keys.js';
import { parse, siteNotFound, usage, type Command } from './command.js';
import { openContext, out } from './context.js';

export const apikey: Command = {
  name: 'apikey',
  summary: "create, list or revoke API keys that read one site's statistics",
  help: `Usage: lighttrail apikey create --site ID [--json]
       lighttrail apikey list [--site ID] [--json]
       lighttrail apikey revoke KEY_ID

create makes a key scoped to reading the statistics of one site. The token is shown once;
only a hash of it is stored. Send it as "Authorization: Bearer <token>". revoke withdraws a
key for good (a leaked one, say). Both are recorded as system events.`,

  async run(argv) {
    const { values, positionals } = parse(
      argv,
      { site: { type: 'string' }, json: { type: 'boolean' } },
      2,
    );
    if (values.help) return (out(this.help), 0);

    const [action, keyId] = positionals;
    if (action === 'create' && !values.site) throw usage('apikey create needs --site ID');
    if (action === 'revoke' && keyId === undefined) throw usage('apikey revoke needs KEY_ID');
    if (action !== 'create' && action !== 'list' && action !== 'revoke') {
      throw usage('expected "apikey create", "apikey list" or "apikey revoke"');
    }

    const { control } = await openContext();
    try {
      if (action === 'list') {
        if (values.site !== undefined && control.getSite(values.site) === undefined) {
          throw siteNotFound(values.site);
        }

        const keys = control.listApiKeys(values.site).map((key) => ({
          keyId: key.id,
          siteId: key.siteId,
          scope: key.scope,
          createdAt: new Date(key.createdAt).toISOString(),
          revokedAt: key.revokedAt === null ? null : new Date(key.revokedAt).toISOString(),
        }));
        if (values.json) return (out(JSON.stringify(keys)), 0);
        for (const key of keys) {
          const state = key.revokedAt === null ? 'active' : `revoked ${key.revokedAt}`;
          out(`${key.keyId}  site ${key.siteId}  ${key.scope}  ${state}`);
        }

        return 0;
      }

      if (action === 'revoke') {
        if (!control.revokeApiKey(keyId as string, 'cli:apikey')) {
          throw new LightTrailError('ERR_NOT_FOUND', `no live API key ${keyId}`, { status: 404 });
        }

        out(`API key ${keyId} revoked`);

        return 0;
      }

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
