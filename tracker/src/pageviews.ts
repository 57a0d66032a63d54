import type { EngagementMeter } from './engagement.js';
import type { Send, TrackerEvent } from './types.js';

// How a pageview came about: the load, pushState or popstate; a replaceState; a page restored.
const NAVIGATE = 0;
const REPLACE = 1;
const RESTORE = 2;
type Cause = typeof NAVIGATE | typeof REPLACE | typeof RESTORE;

/**
 * Records the pageview of this load, then one per SPA route change. A route change is a change of
 * pathname or search from the last recorded pageview, seen through `history.pushState` and
 * `popstate`: re-pushing the same URL or changing only the hash is not a new page. A
 * `replaceState` rewrites the current page's address, so it counts only when the path changes
 * (a router's redirect), not when a router tidies the address of the page just counted (a
 * final `/`, a query dropped after reading it) or a search box keeps its text in the query as
 * the visitor types (QA: eleven pageviews for "chest pain"). With `hashRoutes` (`data-hash` on
 * the tag) the fragment is part of the page: a hash router's route changes count, whether they
 * come from a link, `location.hash` or a pushed `#/...`. A page the browser restores from
 * its back/forward cache is shown again, so it counts again, as a load would. The engagement of
 * the page being left goes in the same request, ahead of the new pageview.
 */
export function startPageviews(send: Send, meter: EngagementMeter, hashRoutes: boolean): void {
  // The page's address now, and the one its pageview was counted at (a replaceState that was
  // not counted tells them apart: going back to either is no new page, QA).
  let current: string | undefined;
  let counted: string | undefined;
  let currentPath: string | undefined;

  const record = (cause: Cause): void => {
    const route = hashRoutes ? location.hash : '';
    const key = location.pathname + location.search + route;
    // Compared only, never sent: `/about/` is `/about`, and `/` is ''.
    const path = location.pathname.replace(/\/$/, '') + route;
    if (cause === REPLACE && path === currentPath) {
      current = key;
      return;
    }

    if ((key === current || key === counted) && cause !== RESTORE) return;

    const events: TrackerEvent[] = [];
    const left = meter.take(location.href);
    // After a restore, the time measured is the moment since the page came back: nothing read.
    if (left && cause !== RESTORE) events.push(left);

    events.push({
      type: 'pageview',
      url: location.href,
      // Only the load's: an address counted before is never '' (it starts with `/`).
      referrer: current ? '' : document.referrer,
      title: document.title,
      screen: innerWidth,
      lang: navigator.language,
    });

    current = counted = key;
    currentPath = path;
    send(events);
  };

  for (const method of ['pushState', 'replaceState'] as const) {
    const original = history[method];
    const cause = method === 'pushState' ? NAVIGATE : REPLACE;
    history[method] = function (this: History, ...args: Parameters<History['pushState']>) {
      original.apply(this, args);
      record(cause);
    };
  }

  // Also fired by a fragment's navigation (a link to `#/inbox`, `location.hash = ...`).
  addEventListener('popstate', () => record(NAVIGATE));
  addEventListener('pageshow', (event) => {
    if (event.persisted) record(RESTORE);
  });
  record(NAVIGATE);
}
