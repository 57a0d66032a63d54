import { randomBytes } from 'node:crypto';
import { httpsRequest, type Response } from './https.js';

import { createApiKey } from '../../src/identity/api-keys.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/settings.js';
import { LocalKeyProvider } from '../../src/crypto/local-provider.js';
import { validateSiteSettings, type SiteSettings } from '../../src/domain/site.js';
import { createMemoryLogger } from '../../src/log/logger.js';
import { createLightTrail, type LightTrail } from '../../src/server/lighttrail.js';
import { SqliteControlStore } from '../../src/store/sqlite/control.js';
import type { Db } from '../../src/store/sqlite/open.js';
import { openTenantDb } from '../../src/store/sqlite/tenant.js';
import { tempDir } from './temp.js';

export const CHROME_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 ' +
  'Safari/537.36';

export interface Product {
  config: Config;
  app: LightTrail;
  control: SqliteControlStore;
  port: number;
  origin: string;
  siteId: string;
  tenantId: string;
  token: string;
  /** Every log line the product wrote, as JSON text. */
  logs: string[];
  dataDir: string;
  post(body: string | Buffer, headers?: Record<string, string>): Promise<Response>;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  /** Any method on any path, with exactly the headers given. */
  send(
    method: string,
    path: string,
    body?: string | Buffer,
    headers?: Record<string, string>,
  ): Promise<Response>;
  /** Opens the tenant's decrypted database (close it after use). */
  tenantDb(): Promise<Db>;
  close(): Promise<void>;
}

export type { Response };

/**
 * Starts the real product in this process on a random port with a fresh encrypted data folder,
 * one organisation and one site, and an API key for its stats. Logs are kept in memory so a
 * test can scan them.
 */
export async function startProduct(
  options: { env?: Record<string, string>; site?: Partial<SiteSettings> } = {},
): Promise<Product> {
  const { dir, cleanup } = tempDir('lighttrail-product-');
  const config = loadConfig({
    env: {
      LIGHTTRAIL_DATA_DIR: dir,
      LIGHTTRAIL_PORT: '0',
      LIGHTTRAIL_MASTER_KEY: randomBytes(32).toString('hex'),
      LIGHTTRAIL_COMMIT_INTERVAL_MS: '2',
      ...options.env,
    },
    cwd: dir,
  });
  const { logger, lines } = createMemoryLogger('debug');
  const provider = LocalKeyProvider.fromKey(config.masterKey as string);
  const control = await SqliteControlStore.open(config.dataDir, provider);
  const tenant = await control.createTenant('Clinic A', 'test');
  const settings = validateSiteSettings({
    domains: ['localhost', 'portal.clinic-a.example'],
    ...options.site,
  });
  const site = control.createSite(tenant.id, 'Clinic A portal', settings, 'test');
  const { token } = createApiKey(control, site.id, 'test');

  const app = await createLightTrail({ config, logger, control });
  const { port } = await app.listen();
  const ca = app.tls.cert;

  const send = (
    method: string,
    path: string,
    body?: string | Buffer,
    headers: Record<string, string> = {},
  ) => httpsRequest(port, ca, method, path, body, headers);

  return {
    config,
    app,
    control,
    port,
    origin: `https://localhost:${port}`,
    siteId: site.id,
    tenantId: tenant.id,
    token,
    logs: lines,
    dataDir: dir,
    send,
    post: (body, headers = {}) =>
      send('POST', '/api/collect', body, {
        'Content-Type': 'text/plain',
        'User-Agent': CHROME_UA,
        ...headers,
      }),
    get: (path, headers = {}) => send('GET', path, undefined, headers),
    tenantDb: () => openTenantDb(control, tenant.id),
    async close() {
      await app.close();
      control.close();
      cleanup();
    },
  };
}

/** Every text value in every table of a decrypted database, for leak scans. */
export function dumpDatabase(db: Db): string {
  const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as Array<{
    name: string;
  }>;
  const parts: string[] = [];
  for (const { name } of tables) {
    for (const row of db.prepare(`SELECT * FROM "${name}"`).all() as Array<
      Record<string, unknown>
    >) {
      parts.push(
        JSON.stringify(row, (_key, value) =>
          Buffer.isBuffer(value) ? value.toString('hex') : value,
        ),
      );
    }
  }

  return parts.join('\n');
}
