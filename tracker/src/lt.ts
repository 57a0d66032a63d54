/**
 * LightTrail browser tracker, served as `/lt.js`.
 *
 * Install on each page of the site:
 * `<script defer src="https://ANALYTICS_HOST/lt.js" data-site="SITE_ID"></script>`
 * and, optionally, `data-api="https://…/api/collect"` when the collect endpoint is elsewhere.
 * Custom events: `window.lighttrail.track('Booked', { clinic: 'north' })`.
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
import type { PropValue } from './types.js';

function main(): void {
  if (typeof window.lighttrail?.track === 'function') return;

  if (!/^https?:$/.test(location.protocol)) return;

  const config = readConfig(document.currentScript);
  if (!config) return;

  const send = createSender(config);
  window.lighttrail = Object.freeze({
    track(name: string, props?: Record<string, PropValue>): void {
      const event = customEvent(name, props);
      if (event) send([event]);
    },
  });

  const start = (): void => {
    startPageviews(send, startEngagement(send));
    watchLinks(send);
    watchForms(send);
  };

  if (document.prerendering) document.addEventListener('prerenderingchange', start, { once: true });
  else start();
}

main();
