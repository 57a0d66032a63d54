import type { EnrichedEvent, FilteredHit } from '../domain/event.js';
import type { Site } from '../domain/site.js';
import { LightTrailError } from '../errors.js';
import { openGeo } from '../enrich/geo.js';
import { createSpamReferrerList } from '../enrich/spam-referrers.js';
import type { Logger } from '../log/logger.js';
import { Enricher, type ClientContext, type SaltPair } from './enricher.js';
import type { IncomingEvent } from './schema.js';

/**
 * One collect request as the endpoint accepted it: validated, its site and client known, not yet
 * enriched. It travels in process memory to the writer thread (as JSON text), where
 * `createPreparer`'s function runs it through the PHI firewall and the rest of enrichment just
 * before the transaction that stores it. Nothing in it is written or logged before that.
 */
export interface CollectJob {
  siteId: string;
  events: IncomingEvent[];
  client: ClientContext;
  /** Names the visitor-hash salts in force; `salts` comes with the first jobs that use them. */
  saltsId: number;
}

/** What travels beside a job only while the writer thread may not hold it yet. */
export interface CollectCarried {
  /**
   * The site with its settings, sent while the writer thread may not have this version yet;
   * later jobs for the same version leave it out and the preparer uses the copy it kept.
   */
  site?: Site;
  /** The salts `saltsId` names (binary: JSON cannot carry them). */
  salts?: SaltPair;
}

/**
 * Salt pairs the writer thread keeps: the current one and the few before it, never a day's
 * salt for long after the request thread itself has dropped it (destroyed after 48 hours).
 */
export const SALT_PAIRS_KEPT = 3;

export interface PreparerOptions {
  /** `LIGHTTRAIL_GEOIP_DB`, or undefined for the bundled database. */
  geoipDb: string | undefined;
  /** The operator's extra referrer-spam list. */
  spamFile: string;
}

export type Prepare = (
  job: CollectJob,
  carried?: CollectCarried,
) => { events: EnrichedEvent[]; filtered: FilteredHit[] };

/**
 * Builds the enrichment stage the writer thread runs on each collect job. The geo database is
 * opened here, once, so the request thread never holds it.
 */
export async function createPreparer(options: PreparerOptions, logger: Logger): Promise<Prepare> {
  const geo = await openGeo(options.geoipDb, logger);
  const enricher = new Enricher(geo, createSpamReferrerList(options.spamFile));
  const sites = new Map<string, Site>();

  const siteOf = (job: CollectJob, site: Site | undefined): Site => {
    if (site !== undefined) {
      if (sites.size >= 50_000 && !sites.has(job.siteId)) sites.clear();
      // Kept as received: the firewall's compiled rules are cached per settings object.
      sites.set(job.siteId, site);

      return site;
    }

    const known = sites.get(job.siteId);
    if (known === undefined) {
      throw new LightTrailError('ERR_INTERNAL', `site ${job.siteId} is not known here`);
    }

    return known;
  };

  const saltPairs = new Map<number, SaltPair>();
  const saltsOf = (job: CollectJob, salts: SaltPair | undefined): SaltPair => {
    if (salts !== undefined) {
      saltPairs.set(job.saltsId, salts);
      // Insertion order is age order: the oldest pair goes first.
      for (const id of saltPairs.keys()) {
        if (saltPairs.size <= SALT_PAIRS_KEPT) break;
        saltPairs.delete(id);
      }

      return salts;
    }

    const known = saltPairs.get(job.saltsId);
    if (known === undefined) {
      throw new LightTrailError('ERR_INTERNAL', `salts ${job.saltsId} are not known here`);
    }

    return known;
  };

  return (job, carried) => {
    const site = siteOf(job, carried?.site);
    const salts = saltsOf(job, carried?.salts);
    const events: EnrichedEvent[] = [];
    const filtered: FilteredHit[] = [];
    for (const incoming of job.events) {
      const outcome = enricher.enrichWith(site, incoming, job.client, salts);
      if (outcome.kind === 'event') events.push(outcome.event);
      else filtered.push(outcome.hit);
    }

    return { events, filtered };
  };
}
