/**
 * The wire format shared with the collect endpoint (POST /api/collect, JSON sent as text/plain).
 * The server is the authority on what it keeps: it redacts URLs, drops fragments and titles, and
 * honours `gpc`/`dnt` per site. The tracker only reports what the page already shows.
 */

/** A property value a site may attach to a custom event; anything else is dropped. */
export type PropValue = string | number | boolean;

/** A page load or an SPA route change (pathname or search changed). */
export interface PageviewEvent {
  type: 'pageview';
  url: string;
  /** `document.referrer` on the first pageview of a document, '' on SPA route changes. */
  referrer: string;
  title: string;
  /** `window.innerWidth`, a layout bucket rather than a device fingerprint. */
  screen: number;
  lang: string;
}

/** A click on a link to another host, or on a file to download. */
export interface LinkEvent {
  type: 'outbound' | 'download';
  url: string;
  href: string;
}

/** A form submission; `name` is the form's id or name attribute, never a field value. */
export interface FormEvent {
  type: 'form';
  url: string;
  name: string;
}

/** An event the site sends through `window.lighttrail.track`. */
export interface CustomTrackEvent {
  type: 'custom';
  url: string;
  name: string;
  props: Record<string, PropValue>;
}

/** Visible time and deepest scroll on one page, sent when the visitor leaves or hides it. */
export interface EngagementEvent {
  type: 'engagement';
  url: string;
  engagementMs: number;
  /** Deepest point of the page seen so far, as a whole percentage 0..100. */
  scrollDepth: number;
}

export type TrackerEvent =
  PageviewEvent | LinkEvent | FormEvent | CustomTrackEvent | EngagementEvent;

/** One request body. `gpc` and `dnt` appear only when the browser carries the signal. */
export interface Payload {
  site: string;
  events: TrackerEvent[];
  gpc?: true;
  dnt?: true;
}

/** Hands events to the transport; never throws into the host page. */
export type Send = (events: TrackerEvent[]) => void;

/** What the page sees as `window.lighttrail`. */
export interface LightTrailApi {
  track(name: string, props?: Record<string, PropValue>): void;
  /** A page's stub before the tracker loads: the arguments of each call, in order. */
  q?: ArrayLike<unknown>[];
}

declare global {
  interface Window {
    lighttrail?: LightTrailApi;
  }

  interface Document {
    /** Speculation-rules prerendering (not yet in TypeScript's DOM lib for ES2017). */
    readonly prerendering?: boolean;
  }

  interface Navigator {
    /** Global Privacy Control, https://privacycg.github.io/gpc-spec/ */
    readonly globalPrivacyControl?: boolean;
  }
}
