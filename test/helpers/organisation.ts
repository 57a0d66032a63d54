import { randomBytes } from 'node:crypto';

import { LocalKeyProvider } from '../../src/crypto/local-provider.js';
import { DEFAULT_SITE_SETTINGS } from '../../src/domain/site.js';
import { SqliteControlStore } from '../../src/store/sqlite/control.js';
import { tempDir } from './temp.js';

export interface TestOrganisation {
  control: SqliteControlStore;
  tenantId: string;
  siteId: string;
  /** Closes the control store and removes the folder. */
  cleanup(): void;
}

/** A fresh encrypted data folder with one organisation ('Clinic A') and its site on a.example. */
export async function createOrganisation(): Promise<TestOrganisation> {
  const temp = tempDir();
  const control = await SqliteControlStore.open(
    temp.dir,
    LocalKeyProvider.fromKey(randomBytes(32).toString('hex')),
  );
  const tenant = await control.createTenant('Clinic A', 'test');
  const settings = { ...DEFAULT_SITE_SETTINGS, domains: ['a.example'] };
  const siteId = control.createSite(tenant.id, 'site', settings, 'test').id;

  return {
    control,
    tenantId: tenant.id,
    siteId,
    cleanup: () => {
      control.close();
      temp.cleanup();
    },
  };
}
