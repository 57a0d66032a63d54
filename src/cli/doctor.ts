import { existsSync } from 'node:fs';

import { describeConfig, loadConfig } from '../config/load.js';
import type { Config } from '../config/settings.js';
import { defaultMasterKeyFile } from '../crypto/keyring.js';
import { createProxyMatcher } from '../enrich/client-ip.js';
import { openGeo } from '../enrich/geo.js';
import { parseIp, type ParsedIp } from '../enrich/ip.js';
import { LightTrailError, StoreError, type ErrorCode } from '../errors.js';
import { createLogger } from '../log/logger.js';
import { loadOrCreateCertificate } from '../server/certificate.js';
import { checkTenantFile } from '../store/sqlite/tenant.js';
import { parse, type Command } from './command.js';
import {
  checkDataFolder,
  openContext,
  out,
  requireDataFolder,
  serverPid,
  serverRunning,
} from './context.js';

export const doctor: Command = {
  name: 'doctor',
  summary: 'print the effective configuration (secrets masked) and check it',
  help: `Usage: lighttrail doctor

Prints every setting with its effective value (secrets shown only as "set") and checks that
the data folder is writable, the master key opens the data folder's keys and the control
database reads. Exits 1 when a check fails.`,

  async run(argv) {
    const { values } = parse(argv, {});
    if (values.help) return (out(this.help), 0);

    const config = loadConfig();
    out('Effective configuration:');
    for (const row of describeConfig(config)) {
      out(`  ${row.env.padEnd(32)} ${effective(config, row.env, row.value)}`);
    }

    out('\nChecks:');
    let failed = 0;
    const check = async (name: string, probe: () => Promise<string> | string) => {
      try {
        out(`  ok    ${name}: ${await probe()}`);
      } catch (error) {
        failed += 1;
        const code = error instanceof LightTrailError ? error.code : 'ERR_INTERNAL';
        out(`  FAIL  ${name}: ${code}: ${(error as Error).message}`);
      }
    };

    await check('data folder', () => {
      // A check changes nothing: a missing folder is reported, not made (QA).
      requireDataFolder(config);
      checkDataFolder(config);

      return `${config.dataDir} is a folder this user can read and write`;
    });
    await check('master key and databases', async () => {
      const context = await openContext({ config });
      try {
        context.control.check();
        const tenants = context.control.listTenants().filter((t) => t.deletedAt === null);
        for (const tenant of tenants) {
          // Read-only, like the server's start: a damaged file is left as found.
          try {
            await checkTenantFile(context.control, tenant.id);
          } catch (error) {
            const code = (error as { code?: ErrorCode }).code ?? 'ERR_INTERNAL';
            const which = `organisation "${tenant.name}" (${tenant.id})`;
            throw new StoreError(code, `${which}: ${(error as Error).message}`, error);
          }
        }

        const count = tenants.length;

        const source = context.keySource;

        return `key from ${source} opens every data key; ${count + 1} database(s) intact`;
      } finally {
        context.control.close();
      }
    });
    await check('TLS certificate', async () => {
      if (config.tlsCertFile === undefined) {
        return 'none configured: a self-signed localhost certificate is used (development only)';
      }

      const { fingerprint256 } = await loadOrCreateCertificate(
        config,
        createLogger({ level: 'silent' }),
      );

      return `${config.tlsCertFile} loads with its key; SHA-256 ${fingerprint256}`;
    });
    await check('geography database', async () => {
      if (config.geoipDb !== undefined && !existsSync(config.geoipDb)) {
        throw new LightTrailError(
          'ERR_CONFIG_INVALID',
          `LIGHTTRAIL_GEOIP_DB: ${config.geoipDb} does not exist`,
        );
      }

      const geo = await openGeo(config.geoipDb, createLogger({ level: 'silent' }));
      if (!geo.available) {
        throw new LightTrailError(
          'ERR_CONFIG_INVALID',
          `LIGHTTRAIL_GEOIP_DB: ${config.geoipDb ?? 'the bundled file'} is not a MaxMind database`,
        );
      }

      return config.geoipDb ?? 'bundled DB-IP Lite';
    });
    if (trustsTheInternet(config.trustedProxies)) {
      // Not a failure (the server runs so), but any client could then choose its own address.
      out(
        `  WARN  trusted proxies: ${config.trustedProxies.join(', ')} trust networks across the ` +
          'internet: any client there can set X-Forwarded-For and so choose its own address ' +
          '(visitor id, geography, the rate limit); list only the reverse proxies in front of ' +
          'LightTrail',
      );
    } else {
      await check('trusted proxies', () =>
        config.trustedProxies.length === 0
          ? 'none: the connecting address is the visitor (a loopback one never is)'
          : config.trustedProxies.join(', '),
      );
    }
    await check('server', () => {
      return serverRunning(config)
        ? `running (pid ${serverPid(config)})`
        : 'not running on this data folder';
    });

    return failed === 0 ? 0 : 1;
  },
};

// Public resolvers of unrelated operators, far apart in both address families. A proxy list
// that trusts two of them trusts most of the internet, however its ranges are written
// (`0:0:0:0:0:ffff:0:0/96`, many /8s: QA); one range too wide alone is caught by its width.
const FAR_APART = [
  '8.8.8.8',
  '1.1.1.1',
  '9.9.9.9',
  '208.67.222.222',
  '2001:4860:4860::8888',
  '2620:fe::fe',
];

function trustsTheInternet(cidrs: readonly string[]): boolean {
  if (cidrs.some(isBroadRange)) return true;
  const matcher = createProxyMatcher(cidrs);

  return FAR_APART.filter((ip) => matcher.trusts(parseIp(ip) as ParsedIp)).length >= 2;
}

/**
 * A range of public addresses wider than any reverse-proxy tier: an IPv4 /7 or wider, IPv6 /23
 * or wider (a CDN's widest is a /29), or IPv4 stood in for by IPv6 (mapped, NAT64, 6to4) as
 * wide. Private, link-local and old site-local ranges (`fc00::/7`, `fe80::/10`, `fec0::/10`)
 * are the usual proxy networks.
 */
function isBroadRange(cidr: string): boolean {
  const [address = '', text] = cidr.split('/');
  const parsed = parseIp(address);
  if (text === undefined || parsed === null) return false;

  const bits = Number(text);
  const [a = 0, b = 0, c = 0, d = 0] = parsed.bytes;
  if (parsed.family === 4) return address.includes(':') ? bits < 96 + 8 : bits < 8;
  if ((a & 0xfe) === 0xfc || (a === 0xfe && (b & 0x80) === 0x80)) return false;
  // The well-known NAT64 prefix, 64:ff9b::/96 (not the local-use 64:ff9b:1::/48).
  const nat64 = a === 0x00 && b === 0x64 && c === 0xff && d === 0x9b;
  if (nat64 && parsed.bytes.slice(4, 12).every((byte) => byte === 0)) return bits < 96 + 8;
  if (a === 0x20 && b === 0x02) return bits < 16 + 8;

  return bits < 24;
}

/**
 * A setting's shown value, with the key file a development start falls back to named: "(unset)"
 * beside LIGHTTRAIL_MASTER_KEY_FILE read as if no key file were in use (fresh-clone QA).
 */
function effective(config: Config, env: string, shown: string): string {
  const fallsBack =
    env === 'LIGHTTRAIL_MASTER_KEY_FILE' &&
    config.masterKey === undefined &&
    config.masterKeyFile === undefined &&
    config.env !== 'production';

  return fallsBack ? `(unset: the development default ${defaultMasterKeyFile(config)})` : shown;
}
