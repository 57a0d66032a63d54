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
 * Starts measuring engagement and sends it when the page is hidden or left (`visibilitychange`
 * to hidden, then `pagehide`; both fire on a tab close, and the reset after the first send keeps
 * the second from reporting again). Only visible time counts: a background tab is not reading.
 */
export function startEngagement(send: Send): EngagementMeter {
  let url = '';
  let visibleMs = 0;
  let visibleSince: number | undefined;
  let deepest = 0;

  const restart = (): void => {
    visibleMs = 0;
    visibleSince = document.visibilityState === 'visible' ? performance.now() : undefined;
    deepest = scrollDepth();
  };

  const take = (nextUrl = url): EngagementEvent | undefined => {
    const ms = Math.round(
      visibleMs + (visibleSince === undefined ? 0 : performance.now() - visibleSince),
    );
    const event: EngagementEvent | undefined =
      url && ms > 0
        ? {
            type: 'engagement',
            url,
            engagementMs: ms,
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
  addEventListener('pagehide', leave);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') leave();
    else visibleSince ??= performance.now();
  });

  return { take };
}

/** How far down the page the bottom of the viewport is, as a whole percentage 0..100. */
function scrollDepth(): number {
  const height = document.documentElement.scrollHeight;
  if (height <= 0) return 100;

  return Math.min(100, Math.round(((scrollY + innerHeight) / height) * 100));
}
