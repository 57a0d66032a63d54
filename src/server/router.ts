import { RequestError } from '../errors.js';
import type { Handler } from './context.js';

export interface RouteOptions {
  /**
   * Headers set before the handler runs, so they hold on its replies and its refusals alike:
   * a cross-origin `Cross-Origin-Resource-Policy`, a wider `Content-Security-Policy`, CORS.
   */
  headers?: Record<string, string>;
  /** The security headers, when not the full set: `API_SECURITY_HEADERS` for a POST-only API. */
  securityHeaders?: Readonly<Record<string, string>>;
  /**
   * Log its 2xx answers at debug level: for a beacon endpoint that answers thousands a second,
   * which the request metrics count anyway. Refusals and failures are logged as usual.
   */
  quietSuccess?: boolean;
}

export interface Route {
  readonly method: string;
  readonly pattern: string;
  readonly handler: Handler;
  readonly options: RouteOptions;
}

export type RouteMatch =
  | { kind: 'found'; route: Route; params: Record<string, string> }
  /** `route`: the path's pattern, for the log and the metrics (only the method was wrong). */
  | { kind: 'method-not-allowed'; allow: string[]; route: string }
  | { kind: 'not-found' };

export interface Router {
  /** Registers a handler; a second one for the same method and pattern is a programming error. */
  add(method: string, pattern: string, handler: Handler, options?: RouteOptions): Router;
  /**
   * Finds the route for a raw request path (no query). Literal segments win over `:params`;
   * HEAD falls back to GET. Throws ERR_BAD_REQUEST for malformed percent-encoding or a NUL byte.
   */
  match(method: string, path: string): RouteMatch;
  routes(): readonly Route[];
}

interface Node {
  literals: Map<string, Node>;
  param: { name: string; node: Node } | undefined;
  methods: Map<string, Route>;
}

const PARAM = /^:([A-Za-z_][A-Za-z0-9_]*)$/;
const METHOD = /^[A-Z]+$/;

/**
 * A small trie router with no framework under it: patterns such as `/api/sites/:siteId/stats`,
 * one segment per `:param`. An OPTIONS preflight is just another method a route registers.
 *
 * @example
 * const router = createRouter();
 * router.add('GET', '/api/sites/:siteId/stats', ({ params }) => ({ status: 200, json: params }));
 */
export function createRouter(): Router {
  const root = newNode();
  const all: Route[] = [];

  const router: Router = {
    add(method, pattern, handler, options = {}) {
      const route: Route = Object.freeze({ method, pattern, handler, options });
      insert(root, route);
      all.push(route);

      return router;
    },
    match: (method, path) => match(root, method, path),
    routes: () => [...all],
  };

  return router;
}

function newNode(): Node {
  return { literals: new Map(), param: undefined, methods: new Map() };
}

function insert(root: Node, route: Route): void {
  if (!METHOD.test(route.method))
    throw new TypeError(`route method must be upper case: ${route.method}`);
  if (!route.pattern.startsWith('/'))
    throw new TypeError(`route must start with /: ${route.pattern}`);

  let node = root;
  for (const segment of route.pattern.slice(1).split('/')) {
    node = segment.startsWith(':')
      ? paramChild(node, segment, route.pattern)
      : literalChild(node, segment);
  }

  if (node.methods.has(route.method)) {
    throw new TypeError(`route registered twice: ${route.method} ${route.pattern}`);
  }

  node.methods.set(route.method, route);
}

function literalChild(node: Node, segment: string): Node {
  const existing = node.literals.get(segment);
  if (existing !== undefined) return existing;

  const child = newNode();
  node.literals.set(segment, child);

  return child;
}

function paramChild(node: Node, segment: string, pattern: string): Node {
  const name = PARAM.exec(segment)?.[1];
  if (name === undefined) throw new TypeError(`bad parameter "${segment}" in ${pattern}`);
  if (node.param !== undefined && node.param.name !== name) {
    throw new TypeError(`parameter :${name} in ${pattern} clashes with :${node.param.name}`);
  }

  node.param ??= { name, node: newNode() };

  return node.param.node;
}

function match(root: Node, method: string, path: string): RouteMatch {
  const segments = decodeSegments(path);
  const candidates: Array<{ node: Node; params: Record<string, string> }> = [];
  collect(root, segments, 0, {}, candidates);

  for (const { node, params } of candidates) {
    const route =
      node.methods.get(method) ?? (method === 'HEAD' ? node.methods.get('GET') : undefined);
    if (route !== undefined) return { kind: 'found', route, params };
  }

  if (candidates.length === 0) return { kind: 'not-found' };

  const allow = new Set<string>();
  for (const { node } of candidates) {
    for (const known of node.methods.keys()) allow.add(known);
    if (node.methods.has('GET')) allow.add('HEAD');
  }
  const [nearest] = (candidates[0] as { node: Node }).node.methods.values();

  return {
    kind: 'method-not-allowed',
    allow: [...allow].sort(),
    route: (nearest as Route).pattern,
  };
}

/** Every full match, most specific first (a literal segment before a parameter at each depth). */
function collect(
  node: Node,
  segments: string[],
  index: number,
  params: Record<string, string>,
  out: Array<{ node: Node; params: Record<string, string> }>,
): void {
  const segment = segments[index];
  if (segment === undefined) {
    if (node.methods.size > 0) out.push({ node, params: { ...params } });
    return;
  }

  const literal = node.literals.get(segment);
  if (literal !== undefined) collect(literal, segments, index + 1, params, out);

  if (node.param !== undefined && segment !== '') {
    collect(node.param.node, segments, index + 1, { ...params, [node.param.name]: segment }, out);
  }
}

function decodeSegments(path: string): string[] {
  if (!path.startsWith('/')) throw badTarget('the request path must start with /');

  return path
    .slice(1)
    .split('/')
    .map((raw) => {
      let segment: string;
      try {
        segment = decodeURIComponent(raw);
      } catch {
        throw badTarget('the request path has malformed percent-encoding');
      }

      if (segment.includes('\0')) throw badTarget('the request path contains a NUL byte');

      return segment;
    });
}

function badTarget(message: string): RequestError {
  return new RequestError('ERR_BAD_REQUEST', 400, message);
}
