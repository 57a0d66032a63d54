import type { ControlStore } from '../types.js';
import { migrate } from './migrate.js';
import { openEncrypted, type Db } from './open.js';
import { TENANT_MIGRATIONS } from './schema.js';

/** Opens a tenant's own file with that tenant's own data key, migrating it if needed. */
export async function openTenantDb(
  control: ControlStore,
  tenantId: string,
  options: { readonly?: boolean } = {},
): Promise<Db> {
  const { key } = await control.tenantKey(tenantId);
  const db = openEncrypted(control.tenantFile(tenantId), key, { readonly: options.readonly });
  if (!options.readonly) migrate(db, TENANT_MIGRATIONS);

  return db;
}
