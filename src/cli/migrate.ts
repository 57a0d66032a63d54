import { parse, type Command } from './command.js';
import { openContext, out } from './context.js';

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'bring the control database and every tenant database to the current schema',
  help: `Usage: lighttrail migrate

Applies pending schema migrations to the control database and to each tenant's database,
each step in its own transaction. Safe to run repeatedly; \`start\` runs it too.`,

  async run(argv) {
    const { values } = parse(argv, {});
    if (values.help) return (out(this.help), 0);

    const { control } = await openContext();
    try {
      let count = 0;
      for (const tenant of control.listTenants()) {
        if (tenant.deletedAt !== null) continue;
        (await control.openTenant(tenant.id)).close();
        count += 1;
      }

      out(`control database and ${count} tenant database(s) are at the current schema`);

      return 0;
    } finally {
      control.close();
    }
  },
};
