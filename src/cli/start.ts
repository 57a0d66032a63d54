import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';

import { loadConfig } from '../config/load.js';
import type { Config } from '../config/settings.js';
import { checkMasterKeySettings } from '../crypto/keyring.js';
import { createMemoryLogger } from '../log/logger.js';
import { listenOn } from '../server/app.js';
import { loadOrCreateCertificate } from '../server/certificate.js';
import { createLightTrail } from '../server/lighttrail.js';
import { parse, type Command } from './command.js';
import { holdServerLock, openContext, out, releaseServerLock, sharedSettings } from './context.js';

export const start: Command = {
  name: 'start',
  summary: 'run the HTTPS server: tracker, collect endpoint and stats API',
  help: `Usage: lighttrail start

Starts LightTrail on https://LIGHTTRAIL_HOST:LIGHTTRAIL_PORT (default https://127.0.0.1:8443)
with the encrypted embedded store in LIGHTTRAIL_DATA_DIR (default ./data). In development the
first start creates a master key file and a self-signed certificate for localhost there and
prints the certificate's SHA-256 fingerprint. SIGTERM or SIGINT drains requests in flight,
commits queued events and closes the databases.`,

  async run(argv) {
    const { values } = parse(argv, {});
    if (values.help) return (out(this.help), 0);

    const config = loadConfig();
    checkMasterKeySettings(config);
    // A start refused for its port must not leave new keys, a certificate and a control file
    // behind (with data there already, a running server's own refusal comes first).
    if (!existsSync(path.join(config.dataDir, 'control.db'))) {
      // Nor one refused for its certificate (QA: production without one left a control file
      // sealed under the key it was given), and that mistake is told before a port taken, as
      // the key's is. A configured pair is read and checked here, its warnings left for the
      // start itself; development makes its own certificate later.
      if (config.env === 'production' || config.tlsCertFile !== undefined) {
        await loadOrCreateCertificate(config, createMemoryLogger().logger);
      }
      await checkPortsFree(config);
    }
    holdServerLock(config);
    let context;
    try {
      context = await openContext({ allowGenerate: true, config });
    } catch (error) {
      // A wrong master key, a damaged control file: no pid file of a server that never ran (QA).
      releaseServerLock(config);
      throw error;
    }
    const { control, logger } = context;

    let app;
    let listening;
    try {
      app = await createLightTrail({ config, logger, control });
      listening = await app.listen();
    } catch (error) {
      await app?.close();
      control.close();
      releaseServerLock(config);
      throw error;
    }

    // Handlers first, then the banner: a signal sent as soon as the banner shows still drains.
    const running = app;
    const stopped = new Promise<void>((resolve) => {
      let stopping = false;
      const stop = (signal: string) => {
        // Ctrl+C under `npm start` reaches the server twice, from the terminal and forwarded by
        // npm: with a one-time handler the second copy met Node's default and cut the drain
        // short, resetting requests in flight (QA). Repeats wait for the drain, which the
        // shutdown timeout bounds.
        if (stopping) {
          logger.info('server.stop_pending', { signal });
          return;
        }

        stopping = true;
        logger.info('server.stopping', { signal });
        void (async () => {
          await running.close();
          control.close();
          releaseServerLock(config);
          logger.info('server.stopped', {});
          resolve();
        })();
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });

    const host = config.host === '127.0.0.1' || config.host === '::1' ? 'localhost' : config.host;
    const hasOrganisation = control.listTenants().some((tenant) => tenant.deletedAt === null);
    const metricsLine =
      listening.metricsPort === undefined
        ? ''
        : `\n  metrics          http://127.0.0.1:${listening.metricsPort}/metrics`;
    const prefix = sharedSettings(config, listening.port);
    const settings = Object.keys(process.env).some((name) => name.startsWith('LIGHTTRAIL_'))
      ? '\n(Other terminals need the same LIGHTTRAIL_* settings as this one.)'
      : '';
    const next = hasOrganisation
      ? `Next: ${prefix}npx lighttrail site list, then add the tracker to your pages.${settings}`
      : `Next: create your organisation, first site and owner account (in another terminal):
  ${prefix}npx lighttrail setup --org "Your Clinic" --domain www.your-clinic.example \\
    --email you@your-clinic.example${settings}`;
    out(`LightTrail is running at https://${host}:${listening.port}
  data folder      ${config.dataDir} (AES-256 encrypted)
  TLS certificate  ${config.tlsCertFile ?? 'self-signed for localhost (development)'}
  SHA-256          ${app.tls.fingerprint256}${metricsLine}
${next}
Stop with Ctrl+C; queued events are committed first.`);

    await stopped;

    return 0;
  },
};

/** Refuses as the listeners would (a port taken, a host not here), before anything is made. */
async function checkPortsFree(config: Config): Promise<void> {
  const wanted: Array<[string, string, number]> = [
    ['LIGHTTRAIL_PORT', config.host, config.port],
    ['LIGHTTRAIL_METRICS_PORT', '127.0.0.1', config.metricsPort],
  ];
  for (const [setting, host, port] of wanted) {
    if (port === 0) continue;

    const probe = createServer();
    await listenOn(probe, port, host, setting);
    await new Promise((resolve) => probe.close(resolve));
  }
}
