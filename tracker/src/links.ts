import type { LinkEvent, Send } from './types.js';

/** Paths that name a file rather than a page: a click on one is a download. */
const FILE_EXTENSION = new RegExp(
  '\\.(pdf|docx?|xlsx?|pptx?|od[tsp]|csv|txt|rtf|epub|' +
    'zip|t?gz|tar|7z|rar|bz2|xz|dmg|exe|msi|apk|pkg|deb|rpm|iso|' +
    'mp3|m4a|wav|flac|ogg|mp4|mov|avi|mkv|webm)$',
  'i',
);

/** Contact links: a click on one counts, by its scheme alone. */
const CONTACT = /^(mailto|tel|sms):$/;

/**
 * Says what a link click means for analytics: a download (a file extension or the `download`
 * attribute; it wins over outbound), an outbound click (another host, or a contact link), or
 * nothing.
 */
export function classifyLink(link: HTMLAnchorElement): LinkEvent['type'] | undefined {
  if (CONTACT.test(link.protocol)) return 'outbound';
  if (!/^https?:$/.test(link.protocol)) return undefined;

  if (link.hasAttribute('download') || FILE_EXTENSION.test(link.pathname)) return 'download';

  return link.hostname === location.hostname ? undefined : 'outbound';
}

/**
 * Watches left clicks and middle clicks (`auxclick`, button 1; a middle click fires no `click`)
 * on links, in the capture phase so a page handler that stops propagation cannot hide them. The
 * composed path finds the link inside shadow roots and from any element nested in it.
 */
export function watchLinks(send: Send): void {
  const onClick = (event: MouseEvent): void => {
    if (event.type === 'auxclick' && event.button !== 1) return;

    const link = event.composedPath().find((node) => node instanceof HTMLAnchorElement);
    if (!(link instanceof HTMLAnchorElement)) return;

    // A `mailto:` or `tel:` target is an e-mail address or a phone number (on a patient portal,
    // possibly the patient's own): only its scheme is sent, so click-to-call still counts.
    const type = classifyLink(link);
    const href = CONTACT.test(link.protocol) ? link.protocol : link.href;
    if (type) send([{ type, url: location.href, href }]);
  };

  document.addEventListener('click', onClick, true);
  document.addEventListener('auxclick', onClick, true);
}
