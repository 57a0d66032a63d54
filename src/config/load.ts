import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';

import { ConfigError } from '../errors.js';
import { SETTINGS, type Config, type Setting } from './settings.js';

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Config file; otherwise LIGHTTRAIL_CONFIG, then ./lighttrail.config.json if present. */
  file?: string;
  cwd?: string;
}

/**
 * Reads the config file (if any), lays environment variables over it and validates every value.
 * The first wrong value stops with a ConfigError naming the setting and the reason.
 */
export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const fileValues = readConfigFile(options.file ?? (env.LIGHTTRAIL_CONFIG || undefined), cwd);
  const raw: Record<string, string | undefined> = {};
  // Settings whose value came from the file: their errors name it (final QA).
  const fromFileKeys = new Set<string>();

  for (const setting of SETTINGS) {
    // An empty variable is an unset one, as compose files and environment files write it
    // (`LIGHTTRAIL_PORT=${PORT}` with PORT unset): the file's value or the default applies. Read
    // as a value, it skipped both, and an empty body limit refused every beacon (QA). A list
    // set empty is an empty list.
    const given = env[setting.env];
    const fromEnv = given === '' && setting.kind !== 'list' ? undefined : given;
    const fromFile = fileValues[setting.key];
    raw[setting.key] = fromEnv ?? (fromFile === undefined ? undefined : String(fromFile));
    if (fromEnv === undefined && fromFile !== undefined) fromFileKeys.add(setting.key);
  }

  refuseUnknownVariables(env);

  const config = {} as Record<string, unknown>;
  for (const setting of SETTINGS) {
    try {
      config[setting.key] = parseSetting(setting, raw[setting.key] ?? setting.default, cwd);
    } catch (error) {
      if (!(error instanceof ConfigError) || !fromFileKeys.has(setting.key)) throw error;

      const where = `${setting.key} in the config file (${setting.env} not set)`;
      throw new ConfigError(error.code, error.message.replace(setting.env, where), error);
    }
  }

  return crossCheck(config as unknown as Config);
}

// Read elsewhere: the config file's path, and the key `keys rotate --master` switches to.
const OTHER_VARIABLES = ['LIGHTTRAIL_CONFIG', 'LIGHTTRAIL_NEW_MASTER_KEY'];

/**
 * A LIGHTTRAIL_* variable that names no setting is a typo whose setting silently kept its
 * default (`LIGHTTRAIL_TRUSTED_PROXYS`): refused as the config file refuses an unknown key (QA).
 */
function refuseUnknownVariables(env: NodeJS.ProcessEnv): void {
  const known = new Set([...SETTINGS.map((setting) => setting.env as string), ...OTHER_VARIABLES]);
  for (const name of Object.keys(env)) {
    if (!name.startsWith('LIGHTTRAIL_') || known.has(name)) continue;

    const near = [...known].find((candidate) => editDistance(candidate, name) <= 2);
    throw new ConfigError(
      'ERR_CONFIG_INVALID',
      `${name}: no such setting${near === undefined ? '' : ` (did you mean ${near}?)`}`,
    );
  }
}

/** Levenshtein distance, for the names of settings (a few dozen characters). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(
        Math.min(
          (previous[j] as number) + 1,
          (row[j - 1] as number) + 1,
          (previous[j - 1] as number) + cost,
        ),
      );
    }
    previous = row;
  }

  return previous[b.length] as number;
}

function readConfigFile(file: string | undefined, cwd: string): Record<string, unknown> {
  const candidate = file ?? path.join(cwd, 'lighttrail.config.json');
  if (file === undefined && !existsSync(candidate)) return {};

  let text: string;
  try {
    text = readFileSync(path.resolve(cwd, candidate), 'utf8');
  } catch (cause) {
    const reason =
      (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'unreadable';
    throw new ConfigError('ERR_CONFIG_FILE', `config file ${candidate}: ${reason}`, cause);
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new ConfigError('ERR_CONFIG_FILE', `config file ${candidate}: not valid JSON`, cause);
  }

  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError('ERR_CONFIG_FILE', `config file ${candidate}: must hold a JSON object`);
  }

  const known = new Set(SETTINGS.map((s) => s.key as string));
  for (const key of Object.keys(parsed)) {
    if (!known.has(key)) {
      const near = [...known].find((name) => editDistance(name, key) <= 2);
      throw new ConfigError(
        'ERR_CONFIG_FILE',
        `config file ${candidate}: unknown setting "${key}"` +
          (near === undefined ? '' : ` (did you mean "${near}"?)`),
      );
    }
  }

  return parsed as Record<string, unknown>;
}

function invalid(setting: Setting, reason: string): ConfigError {
  return new ConfigError('ERR_CONFIG_INVALID', `${setting.env}: ${reason}`);
}

function parseSetting(setting: Setting, value: string | undefined, cwd: string): unknown {
  if (value === undefined || (value === '' && setting.kind !== 'list')) return undefined;

  switch (setting.kind) {
    case 'string':
      return value;
    case 'path':
      return path.resolve(cwd, value);
    case 'enum':
      if (!setting.values?.includes(value)) {
        throw invalid(setting, `must be one of ${setting.values?.join(', ')}, not "${value}"`);
      }

      return value;
    case 'port':
      return parseInteger(setting, value, 0, 65535);
    case 'int':
      return parseInteger(setting, value, setting.min ?? 0, setting.max ?? Number.MAX_SAFE_INTEGER);
    case 'list':
      return value
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');
  }
}

function parseInteger(setting: Setting, value: string, min: number, max: number): number {
  // A negative whole number is out of range, not malformed (fresh-clone QA).
  if (!/^-?\d+$/.test(value.trim()))
    throw invalid(setting, `must be a whole number, not "${value}"`);

  const number = Number(value);
  if (number < min || number > max) throw invalid(setting, `must be between ${min} and ${max}`);

  return number;
}

const METRICS_TOKEN_MIN = 32;

function crossCheck(config: Config): Config {
  const find = (key: keyof Config) => SETTINGS.find((s) => s.key === key) as Setting;

  if (config.host !== 'localhost' && isIP(config.host) === 0) {
    throw invalid(find('host'), `must be an IP address or "localhost", not "${config.host}"`);
  }

  for (const cidr of config.trustedProxies) {
    if (!isCidr(cidr)) throw invalid(find('trustedProxies'), `"${cidr}" is not an IP or CIDR`);
  }

  if ((config.tlsCertFile === undefined) !== (config.tlsKeyFile === undefined)) {
    throw invalid(find('tlsCertFile'), 'LIGHTTRAIL_TLS_CERT and LIGHTTRAIL_TLS_KEY go together');
  }

  if (config.masterKey !== undefined && config.masterKeyFile !== undefined) {
    throw invalid(
      find('masterKey'),
      'set LIGHTTRAIL_MASTER_KEY or LIGHTTRAIL_MASTER_KEY_FILE, not both',
    );
  }

  // A bearer token that opens /metrics on the public port: one guessed in a few tries opens it
  // to anyone (QA). 32 characters, as `openssl rand -hex 16` gives.
  if (config.metricsToken !== undefined && config.metricsToken.length < METRICS_TOKEN_MIN) {
    throw invalid(
      find('metricsToken'),
      `must be at least ${METRICS_TOKEN_MIN} characters (for example \`openssl rand -hex 32\`)`,
    );
  }

  if (config.databaseUrl !== undefined) {
    throw new ConfigError(
      'ERR_CONFIG_UNSUPPORTED',
      'LIGHTTRAIL_DATABASE_URL: the PostgreSQL backend is not in this release; ' +
        'unset it to use the embedded store',
    );
  }

  // A batch the collect endpoint accepts must fit the queue and the bucket, or it could never pass.
  if (config.queueMax < config.collectMaxBatch) {
    throw invalid(
      find('queueMax'),
      `must be at least LIGHTTRAIL_COLLECT_MAX_BATCH (${config.collectMaxBatch})`,
    );
  }

  if (config.rateLimitBurst < config.collectMaxBatch) {
    throw invalid(
      find('rateLimitBurst'),
      `must be at least LIGHTTRAIL_COLLECT_MAX_BATCH (${config.collectMaxBatch})`,
    );
  }

  return Object.freeze(config);
}

export function isCidr(value: string): boolean {
  const [address, bits, extra] = value.split('/');
  if (extra !== undefined || address === undefined) return false;

  const family = isIP(address);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d+$/.test(bits)) return false;

  return Number(bits) <= (family === 4 ? 32 : 128);
}

/** The effective configuration with secrets masked, for `lighttrail doctor`. */
export function describeConfig(config: Config): Array<{ env: string; value: string }> {
  return SETTINGS.map((setting) => {
    const value = config[setting.key];
    let shown: string;
    if (value === undefined) shown = '(unset)';
    else if (setting.secret) shown = '******** (set)';
    else if (Array.isArray(value)) shown = value.length === 0 ? '(none)' : value.join(', ');
    else shown = String(value);

    return { env: setting.env, value: shown };
  });
}
