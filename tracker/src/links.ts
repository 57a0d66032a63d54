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
export function classifyLink(target: URL, download: boolean): LinkEvent['type'] | undefined {
  if (CONTACT.test(target.protocol)) return 'outbound';
  if (!/^https?:$/.test(target.protocol)) return undefined;

  if (download || FILE_EXTENSION.test(target.pathname)) return 'download';

  return target.hostname === location.hostname ? undefined : 'outbound';
}

/** The address a link goes to: an HTML link's, or an SVG one's (QA: those were not seen). */
function linkTarget(link: Element): URL | undefined {
  const { href } = link as HTMLAnchorElement | HTMLAreaElement | SVGAElement;
  // An SVG link's `href` is an animated string: its `baseVal` is the address. A link without
  // one (a button written as `<a>`, `<a name>`, `<area nohref>`) goes nowhere: resolved, it
  // read as the page's `<base>` and counted as an outbound click (QA).
  const address = typeof href === 'string' ? href : href.baseVal;
  if (!address) return undefined;

  try {
    return new URL(address, document.baseURI);
  } catch {
    return undefined;
  }
}

/**
 * Watches left clicks and middle clicks (`auxclick`, button 1; a middle click fires no `click`)
 * on links, in the capture phase so a page handler that stops propagation cannot hide them. The
 * composed path finds the link inside open shadow roots and from any element nested in it.
 */
export function watchLinks(send: Send): void {
  const onClick = (event: MouseEvent): void => {
    if (event.type === 'auxclick' && event.button !== 1) return;

    // `<a>` in HTML or SVG, or an image map's `<area>` (QA).
    const link = event.composedPath().find((node) => /^a(rea)?$/.test((node as Element).localName));
    const target = link && linkTarget(link as Element);
    if (!target) return;

    // A `mailto:` or `tel:` target is an e-mail address or a phone number (on a patient portal,
    // possibly the patient's own): only its scheme is sent, so click-to-call still counts. A
    // name and password written into a link never leave the page.
    const type = classifyLink(target, (link as Element).hasAttribute('download'));
    target.username = target.password = '';
    const href = CONTACT.test(target.protocol) ? target.protocol : target.href;
    if (type) send([{ type, url: location.href, href }]);
  };

  document.addEventListener('click', onClick, true);
  document.addEventListener('auxclick', onClick, true);
}
