import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { combinedLine } from '../helpers/access-log.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

// A public address: the import counts each line from a documentation one as its own visitor.
const line = (target: string, time: string) => combinedLine(target, time, '81.2.69.142');

describe('lighttrail stats, a session across midnight (QA, twelfth session)', () => {
  const { dir, cleanup } = tempDir('lighttrail-stats-');
  const env = { LIGHTTRAIL_DATA_DIR: dir, LIGHTTRAIL_MASTER_KEY: randomBytes(32).toString('hex') };
  let siteId: string;

  beforeAll(async () => {
    const setup = await runCli(
      ['setup', '--org', 'A', '--domain', 'www.clinic-a.example', '--email', 'a@clinic-a.example'],
      env,
    );
    siteId = /site\s+([0-9a-f-]{36})/i.exec(setup.stdout)?.[1] ?? '';
    const log = path.join(dir, 'midnight.log');
    writeFileSync(
      log,
      [
        line('/x', '04/Dec/2026:23:59:50 +0000'),
        line('/y', '05/Dec/2026:00:00:20 +0000'),
        line('/z', '05/Dec/2026:00:20:20 +0000'),
      ].join('\n') + '\n',
    );
    const imported = await runCli(['import', '--site', siteId, '--format', 'combined', log], env);
    expect(imported.code).toBe(0);
  }, 60_000);

  afterAll(() => cleanup());

  it('shows the later day its pageviews, and no bounce or duration without a session', async () => {
    const later = await runCli(
      ['stats', '--site', siteId, '--from', '2026-12-05', '--to', '2026-12-05'],
      env,
    );

    expect(later.code).toBe(0);
    expect(later.stdout).toMatch(/Sessions 0 {2}Pageviews 2 {2}Bounce n\/a {2}Visit duration n\/a/);
    expect(later.stdout).toMatch(/2026-12-05\s+0\s+0\s+2\s+n\/a\s+n\/a/);

    const both = await runCli(
      ['stats', '--site', siteId, '--from', '2026-12-04', '--to', '2026-12-05', '--json'],
      env,
    );
    const stats = JSON.parse(both.stdout) as { totals: { sessions: number; pageviews: number } };
    expect(stats.totals).toMatchObject({ sessions: 1, pageviews: 3 });
  });
});
