import { statSync } from 'node:fs';

import { importLog } from '../collect/import/run.js';
import { createProgressBar } from '../collect/import/progress.js';
import { isLogFormat, LOG_FORMATS } from '../collect/import/parse.js';
import { openLogFile } from '../collect/import/read.js';
import { ImportSalts } from '../collect/salts.js';
import { parse, siteNotFound, usage, type Command } from './command.js';
import { holdImportLock, openContext, out } from './context.js';
import { createPipeline } from '../server/lighttrail.js';
import { checkTenantFile } from '../store/sqlite/tenant.js';

export const importCommand: Command = {
  name: 'import',
  summary: 'import a web server access log through the collection pipeline',
  help: `Usage: lighttrail import --site ID --format combined|common|nginx-json FILE [--json]

Streams FILE through the same PHI firewall, bot filter and enrichment as live events.
Successful HTML page requests become pageviews at the log's own timestamps; static assets,
downloads and data files of a known kind, feeds and errors are left out, and bots are counted
as filtered traffic, not pageviews. Malformed lines are counted and reported without
stopping the import. Importing the same file again stores nothing twice. Client addresses
in the log are used in memory for geography and visitor counting, never stored.`,

  async run(argv) {
    const { values, positionals } = parse(
      argv,
      { site: { type: 'string' }, format: { type: 'string' }, json: { type: 'boolean' } },
      1,
    );
    if (values.help) return (out(this.help), 0);
    if (!values.site) throw usage('import needs --site ID');
    if (!values.format || !isLogFormat(values.format)) {
      throw usage(`--format must be one of ${LOG_FORMATS.join(', ')}`);
    }

    const file = positionals[0];
    if (file === undefined) throw usage('import takes exactly one FILE');

    // A wrong path is told before any data is opened.
    await (await openLogFile(file)).handle.close();

    const context = await openContext();
    const site = context.control.getSite(values.site);
    if (site === undefined) {
      context.control.close();
      throw siteNotFound(values.site);
    }

    // Read-only first: a damaged file is refused before anything is written into it.
    try {
      holdImportLock(context.config, site.id);
      await checkTenantFile(context.control, site.tenantId);
    } catch (error) {
      context.control.close();
      throw error;
    }

    const tenant = await context.control.openTenant(site.tenantId);
    const salts = await ImportSalts.forSite(context.control, site.id);
    const { enricher, queue } = await createPipeline(context, salts);
    const size = (() => {
      try {
        return statSync(file).size;
      } catch {
        return 1;
      }
    })();
    const bar = createProgressBar(process.stderr, size);
    const started = Date.now();
    // The import keeps the settings it started with: a time zone changed meanwhile moves its
    // rows afterwards (QA: part of an import stayed on the old zone's days).
    const mark = tenant.mark();
    // Ctrl+C or a stop: what was read is committed and said so, instead of a silent exit (QA).
    const stop = new AbortController();
    const interrupt = () => stop.abort();
    process.once('SIGINT', interrupt);
    process.once('SIGTERM', interrupt);
    try {
      const report = await importLog({
        signal: stop.signal,
        site,
        file,
        format: values.format,
        queue,
        enricher,
        tenant,
        onProgress: (read, _total, lines) => bar.update(read, lines),
      });
      bar.done();
      const zone = context.control.getSite(site.id)?.settings.timeZone ?? site.settings.timeZone;
      if (zone !== site.settings.timeZone) tenant.redate(site.id, zone, mark);
      context.control.recordSystemEvent({
        type: report.interrupted === true ? 'import.interrupted' : 'import.completed',
        tenantId: site.tenantId,
        actor: 'cli:import',
        detail: { siteId: site.id, format: values.format, ...report, malformedSamples: undefined },
      });

      if (values.json) {
        out(JSON.stringify(report));
      } else {
        const skipped = Object.entries(report.skipped)
          .map(([reason, count]) => `${reason} ${count}`)
          .join(', ');
        out(`Imported ${report.lines} lines in ${((Date.now() - started) / 1000).toFixed(1)}s
  pageviews stored   ${report.pageviews}
  already imported   ${report.duplicates}
  bots and spam      ${report.filtered} (filtered traffic, counted once per line)
  not pageviews      ${skipped}
  malformed lines    ${report.malformed}${samples(report.malformedSamples, report.malformed)}`);
      }

      if (report.interrupted === true) {
        process.stderr.write(
          `lighttrail: import interrupted after ${report.lines} lines, all of them stored; run ` +
            'the same command again to import the rest (lines already in are not stored twice)\n',
        );

        return 130;
      }

      return 0;
    } finally {
      process.off('SIGINT', interrupt);
      process.off('SIGTERM', interrupt);
      await queue.close();
      tenant.close();
      context.control.close();
    }
  },
};

/** Where the malformed lines are: all of them, or the first few when there are more. */
function samples(lines: number[], total: number): string {
  if (lines.length === 0) return '';

  const list = lines.join(', ');
  if (total > lines.length) return ` (the first at lines ${list})`;

  return lines.length === 1 ? ` (line ${list})` : ` (lines ${list})`;
}
