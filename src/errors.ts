/**
 * One error base for the whole product. Every refusal carries a stable `code` that callers,
 * scripts and tests switch on; the human text may change, the code may not. Detail that must not
 * reach a client (a path, a driver message) goes on `cause`.
 */
export type ErrorCode =
  | 'ERR_CONFIG_INVALID'
  | 'ERR_CONFIG_FILE'
  | 'ERR_CONFIG_UNSUPPORTED'
  | 'ERR_MASTER_KEY_MISSING'
  | 'ERR_MASTER_KEY_INVALID'
  | 'ERR_MASTER_KEY_WRONG'
  | 'ERR_KEY_NOT_FOUND'
  | 'ERR_KEY_UNWRAP'
  | 'ERR_TLS_CONFIG'
  | 'ERR_DB_CORRUPT'
  | 'ERR_DB_KEY'
  | 'ERR_DB_MIGRATION'
  | 'ERR_TENANT_NOT_FOUND'
  | 'ERR_TENANT_DELETED'
  | 'ERR_SITE_NOT_FOUND'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_BAD_REQUEST'
  | 'ERR_REQUEST_TIMEOUT'
  | 'ERR_HEADERS_TOO_LARGE'
  | 'ERR_EXPECTATION_FAILED'
  | 'ERR_INVALID_JSON'
  | 'ERR_INVALID_UTF8'
  | 'ERR_INVALID_EVENT'
  | 'ERR_UNSUPPORTED_MEDIA_TYPE'
  | 'ERR_TRANSFER_CODING'
  | 'ERR_PAYLOAD_TOO_LARGE'
  | 'ERR_BATCH_TOO_LARGE'
  | 'ERR_UNKNOWN_SITE'
  | 'ERR_HOSTNAME_NOT_ALLOWED'
  | 'ERR_ORIGIN_NOT_ALLOWED'
  | 'ERR_RATE_LIMITED'
  | 'ERR_QUEUE_FULL'
  | 'ERR_SHUTTING_DOWN'
  | 'ERR_SERVER_RUNNING'
  | 'ERR_DATA_BUSY'
  | 'ERR_NO_DATA'
  | 'ERR_PORT_IN_USE'
  | 'ERR_USAGE'
  | 'ERR_USER_EXISTS'
  | 'ERR_STORE_UNAVAILABLE'
  | 'ERR_UNAUTHENTICATED'
  | 'ERR_FORBIDDEN'
  | 'ERR_NOT_FOUND'
  | 'ERR_METHOD_NOT_ALLOWED'
  | 'ERR_IMPORT_FORMAT'
  | 'ERR_IMPORT_FILE'
  | 'ERR_IMPORT_READ'
  | 'ERR_NOT_BUILT'
  | 'ERR_DATA_ACCESS'
  | 'ERR_INTERNAL';

export class LightTrailError extends Error {
  readonly code: ErrorCode;
  /** HTTP status a route answers with when this error escapes a handler. */
  readonly status: number;
  /** Headers a route adds to the refusal, such as `Retry-After`. */
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { status?: number; cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LightTrailError';
    this.code = code;
    this.status = options.status ?? 500;
    this.headers = options.headers;
  }
}

export class ConfigError extends LightTrailError {
  constructor(code: ErrorCode, message: string, cause?: unknown) {
    super(code, message, { status: 500, cause });
    this.name = 'ConfigError';
  }
}

export class KeyError extends LightTrailError {
  constructor(code: ErrorCode, message: string, cause?: unknown) {
    super(code, message, { status: 500, cause });
    this.name = 'KeyError';
  }
}

export class StoreError extends LightTrailError {
  constructor(code: ErrorCode, message: string, cause?: unknown) {
    super(code, message, { status: 500, cause });
    this.name = 'StoreError';
  }
}

/** A client's mistake: a 4xx with a stable code and a message safe to show. */
export class RequestError extends LightTrailError {
  constructor(
    code: ErrorCode,
    status: number,
    message: string,
    cause?: unknown,
    headers?: Record<string, string>,
  ) {
    super(code, message, { status, cause, headers });
    this.name = 'RequestError';
  }
}

export function isLightTrailError(value: unknown): value is LightTrailError {
  return value instanceof LightTrailError;
}
