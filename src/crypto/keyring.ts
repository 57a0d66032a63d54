import { existsSync, statSync } from 'node:fs';
import path from 'node:path';

import type { Config } from '../config/settings.js';
import { KeyError } from '../errors.js';
import { createLogger, type Logger } from '../log/logger.js';
import { LocalKeyProvider } from './local-provider.js';
import type { KeyProvider } from './provider.js';

export interface OpenedProvider {
  provider: KeyProvider;
  /** True when this start created a development key file. */
  generated: boolean;
  source: string;
}

export function defaultMasterKeyFile(config: Config): string {
  return path.join(config.dataDir, 'master.key');
}

/**
 * Chooses the master key source: LIGHTTRAIL_MASTER_KEY, else LIGHTTRAIL_MASTER_KEY_FILE, else (in
 * development only) `<dataDir>/master.key`, generated on first start with a loud warning.
 * Production without a supplied key refuses to start.
 */
export function openKeyProvider(
  config: Config,
  logger: Logger,
  options: { allowGenerate?: boolean } = {},
): OpenedProvider {
  if (config.masterKey !== undefined) {
    let provider: KeyProvider;
    try {
      provider = LocalKeyProvider.fromKey(config.masterKey);
    } catch (error) {
      // Name the setting, as for every other wrong value.
      if (!(error instanceof KeyError)) throw error;
      throw new KeyError(error.code, `LIGHTTRAIL_MASTER_KEY: ${error.message}`, error);
    }

    return { provider, generated: false, source: 'LIGHTTRAIL_MASTER_KEY' };
  }

  if (config.masterKeyFile !== undefined) {
    warnIfExposed(config.masterKeyFile, logger);

    return {
      provider: LocalKeyProvider.fromFile(config.masterKeyFile),
      generated: false,
      source: config.masterKeyFile,
    };
  }

  if (config.env === 'production') {
    throw new KeyError(
      'ERR_MASTER_KEY_MISSING',
      'production needs LIGHTTRAIL_MASTER_KEY or LIGHTTRAIL_MASTER_KEY_FILE (or a KMS provider)',
    );
  }

  const file = defaultMasterKeyFile(config);
  if (existsSync(file)) {
    warnIfExposed(file, logger);

    return { provider: LocalKeyProvider.fromFile(file), generated: false, source: file };
  }

  if (options.allowGenerate === false) {
    throw new KeyError('ERR_MASTER_KEY_MISSING', `no master key: ${file} does not exist yet`);
  }

  // Data sealed already: a new key could never open it, and a key file left beside it would
  // only mislead the next command. The key it was sealed with is needed.
  if (existsSync(path.join(config.dataDir, 'control.db'))) {
    throw new KeyError(
      'ERR_MASTER_KEY_MISSING',
      `${config.dataDir} holds sealed data but no master key: set LIGHTTRAIL_MASTER_KEY or ` +
        'LIGHTTRAIL_MASTER_KEY_FILE as for the server that created it',
    );
  }

  const provider = LocalKeyProvider.generateFile(file);
  logger.warn('keys.dev_master_key_generated', {
    file,
    advice:
      'DEVELOPMENT ONLY: a master key file was generated next to the data. ' +
      'Production must supply LIGHTTRAIL_MASTER_KEY or LIGHTTRAIL_MASTER_KEY_FILE ' +
      'from a secret store or KMS.',
  });

  return { provider, generated: true, source: file };
}

/**
 * The master key settings' own mistakes (production without a key, a malformed key, a key file
 * that is missing), found without making or opening anything: `start` checks them before its
 * port, so a wrong setting is reported as such whatever else is wrong.
 */
export function checkMasterKeySettings(config: Config): void {
  const supplied = config.masterKey !== undefined || config.masterKeyFile !== undefined;
  if (!supplied && config.env !== 'production') return;

  openKeyProvider(config, createLogger({ level: 'silent' }), { allowGenerate: false });
}

/** A key file others can read is a key others may have: say so at every start. */
function warnIfExposed(file: string, logger: Logger): void {
  if (!existsSync(file)) return;

  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    logger.warn('keys.master_key_file_exposed', {
      file,
      mode: mode.toString(8),
      advice: 'the master key file is readable by other users: chmod 600 it',
    });
  }
}
