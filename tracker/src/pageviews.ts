import type { EngagementMeter } from './engagement.js';
import type { Send, TrackerEvent } from './types.js';

/**
 * Records the pageview of this load, then one per SPA route change. A route change is a change of
 * pathname or search from the last recorded pageview, seen through `history.pushState`,
 * `history.replaceState` and `popstate`: re-pushing the same URL or changing only the hash is not
 * a new page. The engagement of the page being left goes in the same request, ahead of the new
 * pageview.
 */
export function startPageviews(send: Send, meter: EngagementMeter): void {
  let current: string | undefined;

  const record = (): void => {
    const key = location.pathname + location.search;
    if (key === current) return;

    const events: TrackerEvent[] = [];
    const left = meter.take(location.href);
    if (left) events.push(left);

    events.push({
      type: 'pageview',
      url: location.href,
      referrer: current === undefined ? document.referrer : '',
      title: document.title,
      screen: innerWidth,
      lang: navigator.language,
    });

    current = key;
    send(events);
  };

  for (const method of ['pushState', 'replaceState'] as const) {
    const original = history[method];
    history[method] = function (this: History, ...args: Parameters<History['pushState']>) {
      original.apply(this, args);
      record();
    };
  }

  addEventListener('popstate', record);
  record();
}
