import { setTimeout as sleep } from 'node:timers/promises';

import { SITE_CACHE_MS } from '../collect/collector.js';
import { validateSiteSettings, type Site, type SiteSettings } from '../domain/site.js';
import { LightTrailError } from '../errors.js';
import type { Redated, SystemEvent } from '../store/types.js';
import { parse, siteNotFound, usage, type Command } from './command.js';
import { openContext, out, serverRunning, type CliContext } from './context.js';

const FLAGS = {
  tenant: { type: 'string' },
  name: { type: 'string' },
  domains: { type: 'string' },
  timezone: { type: 'string' },
  'query-allowlist': { type: 'string' },
  'sensitive-params': { type: 'string' },
  'path-rules': { type: 'string' },
  'count-only': { type: 'string' },
  'collapse-ids': { type: 'string' },
  geo: { type: 'string' },
  gpc: { type: 'string' },
  dnt: { type: 'string' },
  titles: { type: 'string' },
  fragments: { type: 'string' },
  json: { type: 'boolean' },
} as const;

export const site: Command = {
  name: 'site',
  summary: 'list, show, create and update sites and their privacy settings',
  help: `Usage: lighttrail site list [--tenant ID] [--json]
       lighttrail site show ID
       lighttrail site history ID [--json]
       lighttrail site create --tenant ID --name NAME --domains HOSTS [settings] [--json]
       lighttrail site update ID [--name NAME] [settings] [--json]

Settings (lists are comma-separated; an empty value clears a list):
  --domains HOSTS             hostnames allowed to send events (*.host for subdomains)
  --timezone ZONE             IANA time zone in which days are counted
  --query-allowlist NAMES     query parameters kept with their value (UTM and ad click
                              ids are built in); every other parameter keeps its name only
  --sensitive-params NAMES    parameters always redacted, even if allowlisted
  --path-rules PATTERNS       segments matched by * are stored as :id, e.g. /patients/*
  --count-only PATTERNS       sections counted only, e.g. /portal/**
  --collapse-ids on|off       store numeric, UUID, hex, ULID and random-token segments as :id
                              (default on; slugs made of words stay)
  --geo PRECISION             city, region, safe-harbor (no unit below a US state),
                              country or none
  --gpc on|off                honour Global Privacy Control (default on)
  --dnt on|off                honour Do Not Track (default on)
  --titles on|off             store page titles (default off)
  --fragments on|off          keep URL fragments (default off)

Every change is validated first and recorded as a system event; an update that gives
the current values changes and records nothing. \`site history\` lists a site's
recorded events, oldest first: its creation, settings changes, renames, API keys and
log imports.`,

  async run(argv) {
    const { values, positionals } = parse(argv, FLAGS, 2);
    if (values.help) return (out(this.help), 0);

    const [action, id] = positionals;
    // Said before anything is opened: a missing ID is a usage mistake whatever the data.
    if ((action === 'show' || action === 'update' || action === 'history') && id === undefined) {
      throw siteNotFound(id);
    }

    const context = await openContext();
    try {
      const { control } = context;
      if (action === 'list') {
        if (values.tenant !== undefined && control.getTenant(values.tenant) === undefined) {
          throw new LightTrailError('ERR_TENANT_NOT_FOUND', `no organisation ${values.tenant}`);
        }

        const sites = control.listSites(values.tenant);
        if (values.json) return (out(JSON.stringify(sites)), 0);
        for (const item of sites) {
          out(
            `${item.id}  ${item.name}  [${item.settings.domains.join(', ')}]  ` +
              `tenant ${item.tenantId}`,
          );
        }

        return 0;
      }

      if (action === 'show') {
        const found = id === undefined ? undefined : control.getSite(id);
        if (found === undefined) throw siteNotFound(id);
        out(JSON.stringify(found, null, 2));

        return 0;
      }

      if (action === 'history') {
        const found = id === undefined ? undefined : control.getSite(id);
        if (found === undefined) throw siteNotFound(id);
        const history = control.listSystemEvents({ siteId: found.id });
        if (values.json) return (out(JSON.stringify(history)), 0);
        for (const event of history) {
          const when = new Date(event.ts).toISOString();
          out(`${when}  ${event.type}  ${event.actor}  ${describe(event)}`.trimEnd());
        }

        return 0;
      }

      if (action === 'create') {
        if (!values.tenant || !values.name)
          throw usage('site create needs --tenant ID and --name NAME');
        const settings = validateSiteSettings(settingsPatch(values));
        if (settings.domains.length === 0) throw usage('site create needs --domains HOSTS');
        const created = control.createSite(values.tenant, values.name, settings, 'cli:site');
        out(values.json ? JSON.stringify(created) : `site ${created.id} created`);

        return 0;
      }

      if (action === 'update') {
        const found = id === undefined ? undefined : control.getSite(id);
        if (found === undefined) throw siteNotFound(id);
        const patch = settingsPatch(values);
        if (Object.keys(patch).length === 0 && values.name === undefined) {
          throw usage('site update needs --name or at least one setting');
        }
        // Both checked before either is written: a bad setting leaves the name as it was.
        const settings = validateSiteSettings(patch, found.settings);
        if (values.name !== undefined) control.renameSite(found.id, values.name, 'cli:site');
        const updated =
          Object.keys(patch).length === 0
            ? (control.getSite(found.id) ?? found)
            : control.updateSiteSettings(found.id, settings, 'cli:site');
        const zone = updated.settings.timeZone;
        const redated = zone === found.settings.timeZone ? null : await redate(context, updated);
        const unchanged = sameSite(found, updated);
        if (values.json) {
          const extra = unchanged ? { unchanged: true } : redated === null ? {} : { redated };
          out(JSON.stringify({ ...updated, ...extra }));
        } else if (unchanged) out(`site ${updated.id} unchanged: ${UNCHANGED}`);
        else out(`site ${updated.id} updated${redated === null ? '' : movedText(redated, zone)}`);

        return 0;
      }

      throw usage(
        'expected "site list", "site show", "site history", "site create" or "site update"',
      );
    } finally {
      context.control.close();
    }
  },
};

const UNCHANGED = 'the values given are its current ones, and nothing was recorded';

function sameSite(a: Site, b: Site): boolean {
  return a.name === b.name && JSON.stringify(a.settings) === JSON.stringify(b.settings);
}

/** One line of `site history`: what the event changed, in a few words. */
function describe(event: SystemEvent): string {
  const detail = event.detail;
  switch (event.type) {
    case 'site.created':
      return `name ${JSON.stringify(detail.name)}`;
    case 'site.settings_changed':
      return `changed ${(detail.changed as string[]).join(', ')}`;
    case 'site.renamed':
      return `${JSON.stringify(detail.from)} to ${JSON.stringify(detail.to)}`;
    case 'apikey.created':
    case 'apikey.revoked':
      return `key ${String(detail.keyId)}`;
    case 'import.completed':
    case 'import.interrupted':
      return (
        `${String(detail.format)}, ${String(detail.lines)} lines, ${String(detail.pageviews)}` +
        ' pageviews'
      );
    default:
      return '';
  }
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function onOff(flag: string, value: string): boolean {
  if (value === 'on' || value === 'true') return true;
  if (value === 'off' || value === 'false') return false;
  throw usage(`--${flag} must be on or off (true and false are read as those)`);
}

function settingsPatch(
  values: Record<string, string | boolean | undefined>,
): Partial<SiteSettings> {
  const patch: Record<string, unknown> = {};
  const text = (flag: string) => values[flag] as string | undefined;
  const lists: Array<[string, keyof SiteSettings]> = [
    ['domains', 'domains'],
    ['query-allowlist', 'queryAllowlist'],
    ['sensitive-params', 'sensitiveParams'],
    ['path-rules', 'pathRules'],
    ['count-only', 'countOnly'],
  ];
  for (const [flag, key] of lists)
    if (text(flag) !== undefined) patch[key] = list(text(flag) as string);

  const flags: Array<[string, keyof SiteSettings]> = [
    ['collapse-ids', 'collapseIds'],
    ['gpc', 'respectGpc'],
    ['dnt', 'respectDnt'],
    ['titles', 'pageTitles'],
    ['fragments', 'keepFragments'],
  ];
  for (const [flag, key] of flags)
    if (text(flag) !== undefined) patch[key] = onOff(flag, text(flag) as string);

  if (text('timezone') !== undefined) patch.timeZone = text('timezone');
  if (text('geo') !== undefined) patch.geoPrecision = text('geo');

  return patch as Partial<SiteSettings>;
}

/**
 * After a time zone change: the site's stored events and sessions move to the new zone's days.
 * A running server goes on storing under the old zone until it reads the site again, at most
 * `SITE_CACHE_MS` later: what it stored meanwhile is moved by a second pass over the rows added
 * since the first. (An import running meanwhile moves its own rows when it ends.)
 */
async function redate(context: CliContext, site: Site): Promise<Omit<Redated, 'mark'>> {
  const tenant = await context.control.openTenant(site.tenantId);
  try {
    const moved = tenant.redate(site.id, site.settings.timeZone);
    if (!serverRunning(context.config)) return { events: moved.events, sessions: moved.sessions };

    await sleep(SITE_CACHE_MS + 1_000);
    const late = tenant.redate(site.id, site.settings.timeZone, moved.mark);

    return { events: moved.events + late.events, sessions: moved.sessions + late.sessions };
  } finally {
    tenant.close();
  }
}

function movedText(moved: Omit<Redated, 'mark'>, zone: string): string {
  return `; ${moved.events} events and ${moved.sessions} sessions moved to their days in ${zone}`;
}
