import type { EngagementEvent, Send } from './types.js';

/** Measures one page-visit at a time: visible time and deepest scroll. */
export interface EngagementMeter {
  /**
   * Closes what was measured so far and starts over, for `nextUrl` when the visitor moves to
   * another SPA route, or for the same page otherwise. Returns the event to send, or undefined
   * when there is nothing to report (no page yet, or no visible time).
   */
  take(nextUrl?: string): EngagementEvent | undefined;
}

/**
 * Starts measuring engagement and sends it when the page is hidden or left (`pagehide`, or
 * `visibilitychange` to hidden; a tab close fires both, and the reset after the first send keeps
 * the second from reporting again). Only visible time counts: a background tab is not reading.
 */
export function startEngagement(send: Send): EngagementMeter {
  let url = '';
  let visibleSince: number | undefined;
  let deepest = 0;

  const resume = (): void => {
    if (document.visibilityState === 'visible') visibleSince ??= performance.now();
  };

  // Depth is read on scrolling and when the visit is reported, never at the start: a tag that
  // runs before the body exists saw a short page as read to its end, and an SPA route measured
  // at pushState inherited the old route's scroll before the router moved it (QA).
  const restart = (): void => {
    visibleSince = undefined;
    resume();
    deepest = 0;
  };

  const take = (nextUrl = url): EngagementEvent | undefined => {
    const ms = visibleSince === undefined ? 0 : Math.round(performance.now() - visibleSince);
    const event: EngagementEvent | undefined =
      url && ms > 0
        ? {
            type: 'engagement',
            url,
            // The collect schema's bound: a tab left visible over a day says a day.
            engagementMs: Math.min(ms, 86_400_000),
            scrollDepth: Math.max(deepest, scrollDepth()),
          }
        : undefined;

    url = nextUrl;
    restart();

    return event;
  };

  const leave = (): void => {
    const event = take();
    if (event) send([event]);
  };

  restart();
  addEventListener('scroll', () => (deepest = Math.max(deepest, scrollDepth())), { passive: true });
  // Browsers fire pagehide while the page is still visible, then visibilitychange to hidden:
  // the clock stops at pagehide and restarts only if the page comes back (back/forward cache).
  addEventListener('pagehide', () => {
    leave();
    visibleSince = undefined;
  });
  addEventListener('pageshow', resume);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') leave();
    else resume();
  });

  return { take };
}

/** How far down the page the bottom of the viewport is, as a whole percentage 0..100. */
function scrollDepth(): number {
  // A document of no height gives NaN, sent as null: the endpoint takes that as no depth.
  const seen = (scrollY + innerHeight) / document.documentElement.scrollHeight;

  return Math.min(100, Math.round(seen * 100));
}
