/** Where the tracker sends its events and for which site, read from its own script tag. */
export interface TrackerConfig {
  site: string;
  endpoint: string;
  /** `data-hash`: the site routes by the fragment (`/#/inbox`), so a new fragment is a page. */
  hash: boolean;
}

/**
 * Reads `data-site` and `data-api` from the tag that loaded the tracker. The endpoint defaults to
 * `/api/collect` on the script's own origin, so the usual install needs no `data-api`; a relative
 * `data-api` resolves against the script URL too. Returns undefined (the tracker then stays off)
 * for a tag without a site or with an endpoint that is not http(s).
 */
export function readConfig(script: Element | null): TrackerConfig | undefined {
  if (!(script instanceof HTMLScriptElement)) return undefined;

  const site = script.getAttribute('data-site');
  if (!site) return undefined;

  let endpoint: URL;
  try {
    endpoint = new URL(script.getAttribute('data-api') || '/api/collect', script.src);
  } catch {
    return undefined;
  }

  if (!/^https?:$/.test(endpoint.protocol)) return undefined;

  return { site, endpoint: endpoint.href, hash: script.hasAttribute('data-hash') };
}
