import { parse, usage, type Command } from './command.js';
import { openContext, out, requireSoleUse } from './context.js';

export const tenant: Command = {
  name: 'tenant',
  summary: 'list organisations or delete one (crypto-shredding)',
  help: `Usage: lighttrail tenant list [--json]
       lighttrail tenant delete ID --confirm ID

list prints one organisation a line (id, state, name), or with --json one JSON array of
{id, name, createdAt, deletedAt}.

delete destroys the organisation's data keys, then its database files. Without the keys
no copy of those files (a backup, a stolen disk) can be read again. The deletion is
recorded as a system event. The server must be stopped.`,

  async run(argv) {
    const { values, positionals } = parse(
      argv,
      { confirm: { type: 'string' }, json: { type: 'boolean' } },
      2,
    );
    if (values.help) return (out(this.help), 0);

    const [action, id] = positionals;
    const context = await openContext();
    try {
      const { control, config } = context;
      if (action === 'list') {
        if (values.json) return (out(JSON.stringify(control.listTenants())), 0);

        for (const item of control.listTenants()) {
          const state = item.deletedAt === null ? 'active' : 'deleted';
          out(`${item.id}  ${state}  ${item.name}`);
        }

        return 0;
      }

      if (action !== 'delete' || id === undefined)
        throw usage('expected "tenant list" or "tenant delete ID"');
      if (values.confirm !== id) throw usage('repeat the id with --confirm ID to delete for good');

      requireSoleUse(config, 'tenant deletion');
      await control.deleteTenant(id, 'cli:tenant');
      out(`tenant ${id} deleted: keys destroyed, files removed`);

      return 0;
    } finally {
      context.control.close();
    }
  },
};
