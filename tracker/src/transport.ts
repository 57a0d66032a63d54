import type { TrackerConfig } from './config.js';
import { fitEvent } from './fit.js';
import type { Payload, Send, TrackerEvent } from './types.js';

/**
 * Builds the one function that ships events. The body is JSON typed `text/plain`, a
 * CORS-safelisted type, so a cross-origin collect endpoint costs no preflight. `sendBeacon`
 * survives the page unloading; when it is missing or refuses (it has a quota), a fetch without
 * credentials takes over, keepalive while the page is hidden. Events raised while the page is a
 * prerender wait for activation: a prerender the visitor never opens must report nothing.
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
    // A string body goes as text/plain;charset=UTF-8 of itself. keepalive only while the page is
    // hidden (leaving): such requests share the beacons' 64 KB in-flight quota, so a refused
    // beacon's keepalive fetch is refused too, while a plain one goes as long as the page lives.
    fetch(endpoint, {
      method: 'POST',
      body,
      keepalive: document.hidden,
      credentials: 'omit',
    }).catch(() => undefined);
  } catch {
    // No fetch either (QA: a page that removed both): there is no way to send.
  }
}
