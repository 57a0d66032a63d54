import { validateName, validateSiteSettings, type Site } from '../domain/site.js';
import { generatePassword, hashPassword } from '../identity/password.js';
import type { User } from '../store/types.js';
import { parse, usage, type Command } from './command.js';
import { openContext, out, sharedSettings } from './context.js';

export const setup: Command = {
  name: 'setup',
  summary: 'create an organisation, its first site and an owner account',
  help: `Usage: lighttrail setup --org NAME --domain HOST --email ADDRESS [--site NAME]
                       [--timezone ZONE] [--json]

Creates an organisation (a tenant with its own encrypted database and data key), a first
site that accepts events from HOST, and an owner account. The owner's one-time password is
shown once and never stored in clear; it must be changed at first sign-in.

  --org NAME        organisation name, e.g. "Clinic A"
  --domain HOST     the website's hostname, e.g. www.clinic-a.example (*.host for subdomains)
  --email ADDRESS   the owner's e-mail address
  --site NAME       site name (default: the domain)
  --timezone ZONE   IANA time zone for the site's days (default: UTC)
  --json            print the created ids and one-time password as one JSON object`,

  async run(argv) {
    const { values } = parse(argv, {
      org: { type: 'string' },
      domain: { type: 'string' },
      email: { type: 'string' },
      site: { type: 'string' },
      timezone: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values.help) return (out(this.help), 0);

    const domain = values.domain?.trim().toLowerCase();
    const email = values.email?.trim();
    if (values.org === undefined) throw usage('--org NAME is required');
    // Named as the store names it: one rule and one message for every name (final QA).
    const org = validateName('organisation name', values.org);
    if (!domain) throw usage('--domain HOST is required');
    if (!email || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email) || email.length > 254) {
      throw usage('--email must be an e-mail address');
    }

    const settings = validateSiteSettings({
      domains: [domain],
      timeZone: values.timezone ?? 'UTC',
    });
    const password = generatePassword();
    const passwordHash = await hashPassword(password);

    const context = await openContext({ allowGenerate: true });
    try {
      const { control } = context;
      const siteName = values.site?.trim() || domain;
      let created: { site: Site; user: User } | undefined;
      const tenant = await control.createTenant(org, 'cli:setup', (t) => {
        const site = control.createSite(t.id, siteName, settings, 'cli:setup');
        const user = control.createUser(email, passwordHash);
        control.addMembership(user.id, t.id, 'owner');
        control.recordSystemEvent({
          type: 'user.created',
          tenantId: t.id,
          actor: 'cli:setup',
          detail: { userId: user.id, role: 'owner' },
        });
        created = { site, user };
      });
      const { site, user } = created as { site: Site; user: User };

      if (values.json) {
        out(
          JSON.stringify({
            organisationId: tenant.id,
            siteId: site.id,
            userId: user.id,
            email,
            oneTimePassword: password,
          }),
        );

        return 0;
      }

      const prefix = sharedSettings(context.config);
      const apikey = `${prefix}npx lighttrail apikey create --site ${site.id}`;
      out(`Organisation  ${org}  (${tenant.id})
Site          ${site.name}  (${site.id})
Owner         ${email}
One-time password (shown once; store it safely, it is kept only as a hash):

    ${password}

Next: add the tracker to every page of ${domain}:

    <script defer src="${publicOrigin(context.config)}/lt.js" data-site="${site.id}"></script>

(use the address your visitors reach LightTrail at, behind your TLS proxy or load balancer)

Then read the figures with an API key:  ${apikey}`);

      return 0;
    } finally {
      context.control.close();
    }
  },
};

/** Where this installation answers, as a starting point for the tracker tag. */
function publicOrigin(config: { host: string; port: number }): string {
  const host = config.host === '127.0.0.1' || config.host === '::1' ? 'localhost' : config.host;

  return config.port === 443 ? `https://${host}` : `https://${host}:${config.port}`;
}
