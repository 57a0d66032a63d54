import type { TrackerConfig } from './config.js';
import { fitEvent } from './fit.js';
import type { Payload, Send, TrackerEvent } from './types.js';

/**
 * Builds the one function that ships events. The body is JSON typed `text/plain`, a
 * CORS-safelisted type, so a cross-origin collect endpoint costs no preflight. `sendBeacon`
 * survives the page unloading; when it is missing or refuses (it has a quota), a keepalive fetch
 * without credentials takes over. Events raised while the page is a prerender wait for
 * activation: a prerender the visitor never opens must report nothing.
 */
export function createSender(config: TrackerConfig): Send {
  const held: TrackerEvent[] = [];

  return (events) => {
    held.push(...events.map(fitEvent));
    if (document.prerendering) return;

    const payload: Payload = { site: config.site, events: held.splice(0) };
    if (navigator.globalPrivacyControl === true) payload.gpc = true;
    if (navigator.doNotTrack === '1') payload.dnt = true;

    post(config.endpoint, JSON.stringify(payload));
  };
}

function post(endpoint: string, body: string): void {
  try {
    if (navigator.sendBeacon(endpoint, new Blob([body], { type: 'text/plain' }))) return;
  } catch {
    // No sendBeacon (or it threw): the fetch below is the fallback.
  }

  try {
    fetch(endpoint, {
      method: 'POST',
      body,
      keepalive: true,
      headers: { 'Content-Type': 'text/plain' },
      credentials: 'omit',
    }).catch(() => undefined);
  } catch {
    // No fetch either (QA: a page that removed both): there is no way to send.
  }
}
