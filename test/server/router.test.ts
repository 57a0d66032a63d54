import { describe, expect, it } from 'vitest';

import { isLightTrailError } from '../../src/errors.js';
import type { Handler } from '../../src/server/context.js';
import { createRouter } from '../../src/server/router.js';

const ok: Handler = () => ({ status: 200 });

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return isLightTrailError(error) ? error.code : `not a LightTrailError: ${String(error)}`;
  }

  return undefined;
}

describe('createRouter', () => {
  it('matches patterns and decodes parameters per segment', () => {
    const router = createRouter().add('GET', '/api/sites/:siteId/stats', ok);

    const match = router.match('GET', '/api/sites/clinic%20a%2Fx/stats');

    expect(match).toMatchObject({ kind: 'found', params: { siteId: 'clinic a/x' } });
    expect(match.kind === 'found' && match.route.pattern).toBe('/api/sites/:siteId/stats');
  });

  it('prefers a literal segment over a parameter, and falls back to the parameter', () => {
    const literal: Handler = () => ({ status: 201 });
    const router = createRouter()
      .add('GET', '/api/sites/:siteId', ok)
      .add('GET', '/api/sites/new', literal)
      .add('POST', '/api/sites/new', literal);

    const exact = router.match('GET', '/api/sites/new');
    const other = router.match('GET', '/api/sites/abc');
    const deleteNew = router.match('DELETE', '/api/sites/new');

    expect(exact.kind === 'found' && exact.route.handler).toBe(literal);
    expect(other).toMatchObject({ kind: 'found', params: { siteId: 'abc' } });
    expect(deleteNew).toEqual({
      kind: 'method-not-allowed',
      allow: ['GET', 'HEAD', 'POST'],
      route: '/api/sites/new',
    });
  });

  it('answers not-found for unknown paths, empty parameters and extra segments', () => {
    const router = createRouter().add('GET', '/api/sites/:siteId/stats', ok);

    for (const path of ['/', '/api/sites//stats', '/api/sites/a/stats/x', '/api/sites/a/stats/']) {
      expect(router.match('GET', path)).toEqual({ kind: 'not-found' });
    }
  });

  it('lets a route own its OPTIONS preflight, and HEAD follow GET', () => {
    const preflight: Handler = () => ({ status: 204 });
    const router = createRouter()
      .add('POST', '/collect', ok)
      .add('OPTIONS', '/collect', preflight)
      .add('GET', '/lt.js', ok);

    const options = router.match('OPTIONS', '/collect');
    expect(options.kind === 'found' && options.route.handler).toBe(preflight);
    expect(router.match('GET', '/collect')).toEqual({
      kind: 'method-not-allowed',
      allow: ['OPTIONS', 'POST'],
      route: '/collect',
    });
    expect(router.match('HEAD', '/lt.js')).toMatchObject({ kind: 'found' });
    expect(router.match('OPTIONS', '/lt.js')).toEqual({
      kind: 'method-not-allowed',
      allow: ['GET', 'HEAD'],
      route: '/lt.js',
    });
  });

  it('refuses malformed percent-encoding and NUL bytes with ERR_BAD_REQUEST', () => {
    const router = createRouter().add('GET', '/api/sites/:siteId', ok);

    for (const path of [
      '/api/sites/%E0%A4%A',
      '/api/sites/%zz',
      '/api/sites/a%00b',
      '/%',
      'api/sites/x',
    ]) {
      expect(codeOf(() => router.match('GET', path))).toBe('ERR_BAD_REQUEST');
    }
  });

  it('refuses ambiguous or malformed registrations at start-up', () => {
    const router = createRouter().add('GET', '/a/:id', ok);

    expect(() => router.add('GET', '/a/:id', ok)).toThrow(/twice/);
    expect(() => router.add('GET', '/a/:other/b', ok)).toThrow(/clashes/);
    expect(() => router.add('get', '/b', ok)).toThrow(/upper case/);
    expect(() => router.add('GET', 'b', ok)).toThrow(/start with/);
    expect(() => router.add('GET', '/c/:1x', ok)).toThrow(/bad parameter/);
    expect(router.routes().map((route) => route.pattern)).toEqual(['/a/:id']);
  });
});
