/**
 * LightTrail browser tracker, served as `/lt.js`.
 *
 * Install on each page of the site:
 * `<script defer src="https://ANALYTICS_HOST/lt.js" data-site="SITE_ID"></script>`
 * and, optionally, `data-api="https://…/api/collect"` when the collect endpoint is elsewhere.
 * Custom events: `window.lighttrail.track('Booked', { clinic: 'north' })`; calls made before the
 * tracker loads wait in a stub's `q` (see the README) and are sent after the pageview.
 *
 * No cookie, no storage, no identifier and no fingerprint: whatever visitor counting there is
 * happens on the server. The tracker runs once per document, only on http(s) pages, and does
 * nothing while the page is a prerender. It never throws into the host page.
 *
 * Wire format and event types: see ./types.ts.
 */
import { readConfig } from './config.js';
import { customEvent } from './custom.js';
import { startEngagement } from './engagement.js';
import { watchForms } from './forms.js';
import { watchLinks } from './links.js';
import { startPageviews } from './pageviews.js';
import { createSender } from './transport.js';
import type { LightTrailApi, PropValue } from './types.js';

function main(): void {
  // Another copy of the tracker already runs; a page's stub holding calls (`q`) is replaced,
  // and so is an element that `window` names so (`<div id="lighttrail">`: it stopped the
  // tracker, QA).
  const before = window.lighttrail;
  const queued = before && Array.isArray(before.q) ? before.q : undefined;
  if (before && (before as Partial<LightTrailApi>).track && !queued) return;

  if (!/^https?:$/.test(location.protocol)) return;

  const config = readConfig(document.currentScript);
  if (!config) return;

  const send = createSender(config);
  const api = Object.freeze({
    track(name: string, props?: Record<string, PropValue>): void {
      try {
        const event = customEvent(name, props);
        if (event) send([event]);
      } catch {
        // A props object whose getters or keys throw (QA): the page's own error, not sent.
      }
    },
  });
  window.lighttrail = api;

  const start = (): void => {
    startPageviews(send, startEngagement(send), config.hash);
    watchLinks(send);
    watchForms(send);
    for (const call of queued || []) api.track(call[0] as string, call[1] as never);
  };

  if (document.prerendering) document.addEventListener('prerenderingchange', start, { once: true });
  else start();
}

main();
