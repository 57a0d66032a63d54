import { LOG_LEVELS, type LogLevel } from '../log/logger.js';

/**
 * Every setting LightTrail reads, in one table: its environment variable, its key in the optional
 * JSON config file, its default and how it is checked. The README's configuration table is
 * written from this list.
 */
export interface Config {
  env: 'development' | 'production';
  dataDir: string;
  host: string;
  port: number;
  masterKey: string | undefined;
  masterKeyFile: string | undefined;
  databaseUrl: string | undefined;
  tlsCertFile: string | undefined;
  tlsKeyFile: string | undefined;
  logLevel: LogLevel;
  metricsPort: number;
  metricsToken: string | undefined;
  trustedProxies: string[];
  forwardedMode: 'xff' | 'rfc7239';
  geoipDb: string | undefined;
  collectMaxBody: number;
  collectMaxBatch: number;
  rateLimitPerSecond: number;
  rateLimitBurst: number;
  queueMax: number;
  commitIntervalMs: number;
  commitGatherMs: number;
  sessionFlushMs: number;
  shutdownTimeoutMs: number;
}

export type SettingKind = 'string' | 'port' | 'int' | 'enum' | 'list' | 'path';

export interface Setting {
  key: keyof Config;
  env: string;
  kind: SettingKind;
  description: string;
  default?: string;
  secret?: boolean;
  values?: readonly string[];
  min?: number;
  max?: number;
}

export const SETTINGS: readonly Setting[] = [
  {
    key: 'env',
    env: 'LIGHTTRAIL_ENV',
    kind: 'enum',
    values: ['development', 'production'],
    default: 'development',
    description:
      'In production the master key must be supplied; no key file or certificate is generated.',
  },
  {
    key: 'dataDir',
    env: 'LIGHTTRAIL_DATA_DIR',
    kind: 'path',
    default: './data',
    description: 'Folder for the encrypted databases, generated key file and certificate.',
  },
  {
    key: 'host',
    env: 'LIGHTTRAIL_HOST',
    kind: 'string',
    default: '127.0.0.1',
    description: 'Address the HTTPS server binds to.',
  },
  {
    key: 'port',
    env: 'LIGHTTRAIL_PORT',
    kind: 'port',
    default: '8443',
    description: 'HTTPS port (0 picks a free port).',
  },
  {
    key: 'masterKey',
    env: 'LIGHTTRAIL_MASTER_KEY',
    kind: 'string',
    secret: true,
    description: 'Master key-encryption key: 32 bytes as 64 hex characters or base64.',
  },
  {
    key: 'masterKeyFile',
    env: 'LIGHTTRAIL_MASTER_KEY_FILE',
    kind: 'path',
    description: 'File holding the master key ring (default: <dataDir>/master.key in development).',
  },
  {
    key: 'databaseUrl',
    env: 'LIGHTTRAIL_DATABASE_URL',
    kind: 'string',
    secret: true,
    description: 'PostgreSQL URL; unset means the embedded encrypted SQLite store.',
  },
  {
    key: 'tlsCertFile',
    env: 'LIGHTTRAIL_TLS_CERT',
    kind: 'path',
    description: 'PEM certificate chain; unset generates a self-signed localhost certificate.',
  },
  {
    key: 'tlsKeyFile',
    env: 'LIGHTTRAIL_TLS_KEY',
    kind: 'path',
    description: 'PEM private key for LIGHTTRAIL_TLS_CERT.',
  },
  {
    key: 'logLevel',
    env: 'LIGHTTRAIL_LOG_LEVEL',
    kind: 'enum',
    values: LOG_LEVELS,
    default: 'info',
    description: 'Log level: debug, info, warn, error or silent.',
  },
  {
    key: 'metricsPort',
    env: 'LIGHTTRAIL_METRICS_PORT',
    kind: 'port',
    default: '0',
    description: 'Plain-HTTP metrics port bound to 127.0.0.1 only; 0 disables it.',
  },
  {
    key: 'metricsToken',
    env: 'LIGHTTRAIL_METRICS_TOKEN',
    kind: 'string',
    secret: true,
    description:
      'Bearer token that opens /metrics on the HTTPS port (at least 32 characters); unset keeps ' +
      'it closed.',
  },
  {
    key: 'trustedProxies',
    env: 'LIGHTTRAIL_TRUSTED_PROXIES',
    kind: 'list',
    default: '',
    description: 'Comma-separated CIDRs of reverse proxies whose forwarding headers are believed.',
  },
  {
    key: 'forwardedMode',
    env: 'LIGHTTRAIL_FORWARDED_MODE',
    kind: 'enum',
    values: ['xff', 'rfc7239'],
    default: 'xff',
    description: 'Which header trusted proxies set: X-Forwarded-For or RFC 7239 Forwarded.',
  },
  {
    key: 'geoipDb',
    env: 'LIGHTTRAIL_GEOIP_DB',
    kind: 'path',
    description: 'MaxMind-format city database; unset uses the bundled DB-IP Lite database.',
  },
  {
    key: 'collectMaxBody',
    env: 'LIGHTTRAIL_COLLECT_MAX_BODY',
    kind: 'int',
    default: '65536',
    min: 1024,
    max: 1048576,
    description: 'Largest accepted collect body in bytes; larger gets 413.',
  },
  {
    key: 'collectMaxBatch',
    env: 'LIGHTTRAIL_COLLECT_MAX_BATCH',
    kind: 'int',
    default: '50',
    min: 1,
    max: 500,
    description: 'Most events in one collect request.',
  },
  {
    key: 'rateLimitPerSecond',
    env: 'LIGHTTRAIL_RATE_LIMIT',
    kind: 'int',
    default: '50',
    min: 1,
    max: 1000000,
    description:
      'Events per second allowed per client (token bucket refill); an IPv6 client is its /64.',
  },
  {
    key: 'rateLimitBurst',
    env: 'LIGHTTRAIL_RATE_BURST',
    kind: 'int',
    default: '200',
    min: 1,
    max: 10000000,
    description: 'Token bucket size per client, in events; at least LIGHTTRAIL_COLLECT_MAX_BATCH.',
  },
  {
    key: 'queueMax',
    env: 'LIGHTTRAIL_QUEUE_MAX',
    kind: 'int',
    default: '20000',
    min: 10,
    max: 10000000,
    description:
      'Events waiting for commit before collect answers 503; ' +
      'at least LIGHTTRAIL_COLLECT_MAX_BATCH.',
  },
  {
    key: 'commitIntervalMs',
    env: 'LIGHTTRAIL_COMMIT_INTERVAL_MS',
    kind: 'int',
    default: '0',
    min: 0,
    max: 1000,
    description:
      'Longest wait before a group commit (ms); ' +
      '0 commits at once, grouping what arrives meanwhile.',
  },
  {
    key: 'commitGatherMs',
    env: 'LIGHTTRAIL_COMMIT_GATHER_MS',
    kind: 'int',
    default: '3',
    min: 0,
    max: 100,
    description:
      'Shortest time between two groups handed to the writer (ms): under load, events ' +
      'gather into larger commits; after a quiet spell they go at once. 0: no gathering.',
  },
  {
    key: 'sessionFlushMs',
    env: 'LIGHTTRAIL_SESSION_FLUSH_MS',
    kind: 'int',
    default: '1000',
    min: 0,
    max: 60000,
    description:
      'Longest time session figures wait in memory before they are written (ms); ' +
      '0 writes them with every commit. Events are durable at once either way.',
  },
  {
    key: 'shutdownTimeoutMs',
    env: 'LIGHTTRAIL_SHUTDOWN_TIMEOUT_MS',
    kind: 'int',
    default: '10000',
    min: 100,
    max: 600000,
    description: 'How long a graceful shutdown waits for in-flight work.',
  },
];
