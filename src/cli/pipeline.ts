import path from 'node:path';

import { Enricher } from '../collect/enricher.js';
import { IngestQueue, type QueueObserver } from '../collect/queue.js';
import type { VisitorSalts } from '../collect/salts.js';
import { openGeo } from '../enrich/geo.js';
import { createSpamReferrerList } from '../enrich/spam-referrers.js';
import type { CliContext } from './context.js';

/** The collection pipeline's parts, shared by `start` and `import`. */
export async function createPipeline(
  context: CliContext,
  salts: VisitorSalts,
  observer?: QueueObserver,
): Promise<{ enricher: Enricher; queue: IngestQueue }> {
  const { config, logger, control } = context;
  const geo = await openGeo(config.geoipDb, logger);
  const spam = createSpamReferrerList(path.join(config.dataDir, 'spam-referrers.txt'));
  const enricher = new Enricher(geo, spam, salts);
  const queue = new IngestQueue({
    control,
    logger,
    maxDepth: config.queueMax,
    intervalMs: config.commitIntervalMs,
    observer,
  });

  return { enricher, queue };
}
