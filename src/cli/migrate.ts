import { StoreError } from '../errors.js';
import { checkTenantFile } from '../store/sqlite/tenant.js';
import { parse, type Command } from './command.js';
import { openContext, out } from './context.js';

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'bring the control database and every tenant database to the current schema',
  help: `Usage: lighttrail migrate

Applies pending schema migrations to the control database and to each tenant's database,
each step in its own transaction. Safe to run repeatedly; \`start\` runs it too. A damaged
organisation file is named and left as found (exit 1); the others are migrated.`,

  async run(argv) {
    const { values } = parse(argv, {});
    if (values.help) return (out(this.help), 0);

    const { control } = await openContext();
    try {
      let count = 0;
      const damaged: string[] = [];
      for (const tenant of control.listTenants()) {
        if (tenant.deletedAt !== null) continue;

        // Read-only first, as at the start: a damaged file is named and left as found, never
        // opened for writing (closing that connection would copy its WAL into it).
        try {
          await checkTenantFile(control, tenant.id);
        } catch (error) {
          if (!(error instanceof StoreError) || error.code !== 'ERR_DB_CORRUPT') throw error;
          damaged.push(`organisation "${tenant.name}" (${tenant.id}): ${error.message}`);
          continue;
        }

        (await control.openTenant(tenant.id)).close();
        count += 1;
      }

      const left = damaged.length === 0 ? '' : `; ${damaged.length} damaged, left as found`;
      out(`control database and ${count} tenant database(s) are at the current schema${left}`);
      for (const line of damaged) process.stderr.write(`lighttrail: ERR_DB_CORRUPT: ${line}\n`);

      return damaged.length === 0 ? 0 : 1;
    } finally {
      control.close();
    }
  },
};
