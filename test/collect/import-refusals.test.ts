import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

import Database from 'better-sqlite3-multiple-ciphers';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { combinedLine, LOG_BROWSER_UA } from '../helpers/access-log.js';
import { CLI, runCli, spawnCommand } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

const line = combinedLine;

describe('lighttrail import refusals', () => {
  const { dir, cleanup } = tempDir('lighttrail-import-');
  const env = { LIGHTTRAIL_DATA_DIR: dir, LIGHTTRAIL_MASTER_KEY: randomBytes(32).toString('hex') };
  let siteId: string;

  beforeAll(async () => {
    const setup = await runCli(
      [
        'setup',
        '--org',
        'A',
        '--domain',
        'www.clinic-a.example',
        '--email',
        'a@clinic-a.example',
        '--json',
      ],
      env,
    );
    siteId = (JSON.parse(setup.stdout) as { siteId: string }).siteId;
  });

  afterAll(() => cleanup());

  const importFile = (file: string, format = 'combined') =>
    runCli(['import', '--site', siteId, '--format', format, file, '--json'], env);

  it('refuses a missing file, a folder, a pipe: ERR_IMPORT_FILE, why, exit 2', async () => {
    const before = (await runCli(['stats', '--site', siteId, '--json'], env)).stdout;
    const missing = await importFile(path.join(dir, 'no-such.log'));
    const folder = await importFile(dir);
    // A named pipe: opening it would wait for a writer for ever.
    const fifo = path.join(dir, 'access.fifo');
    execFileSync('mkfifo', [fifo]);
    const pipe = await importFile(fifo);

    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(
      'lighttrail: ERR_IMPORT_FILE: cannot open the log file (no such file)\n',
    );
    expect(folder.code).toBe(2);
    expect(folder.stderr).toBe('lighttrail: ERR_IMPORT_FILE: the log is not a regular file\n');
    expect([pipe.code, pipe.stderr]).toEqual([2, folder.stderr]);
    // Told before any data was opened: no import was recorded, nothing counted.
    expect((await runCli(['stats', '--site', siteId, '--json'], env)).stdout).toBe(before);
  });

  it('refuses a second import into a site while one runs (QA: visitors twice)', async () => {
    const file = path.join(dir, 'one.log');
    writeFileSync(file, `${line('/busy-page')}\n`);
    // The lock a running import holds, taken here as it takes it.
    const running = new Database(path.join(dir, `import-${siteId}.lock`));
    running.exec('BEGIN EXCLUSIVE');
    try {
      const refused = await importFile(file);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^lighttrail: ERR_DATA_BUSY: another import into site /);
    } finally {
      running.close();
    }

    const done = await importFile(file);
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ pageviews: 1 });
  });

  it('Ctrl+C stores what was read, says so, and a second run adds the rest (QA)', async () => {
    const file = path.join(dir, 'long.log');
    const total = 40_000;
    writeFileSync(
      file,
      Array.from({ length: total }, (_, i) => line(`/long/page-${i}`)).join('\n') + '\n',
    );
    const args = ['import', '--site', siteId, '--format', 'combined', file, '--json'];
    const { child, result } = spawnCommand(process.execPath, [CLI, ...args], env);
    // About a third of the way in here (the whole file takes some 5 s on a 2-vCPU machine).
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    child.kill('SIGINT');

    const { code, stdout, stderr } = await result;
    expect(code).toBe(130);
    const first = JSON.parse(stdout) as { lines: number; pageviews: number; interrupted: boolean };
    expect(first.interrupted).toBe(true);
    expect(first.lines).toBeLessThan(total);
    expect(first.pageviews).toBe(first.lines);
    expect(stderr).toMatch(/lighttrail: import interrupted after \d+ lines, all of them stored/);

    const second = await importFile(file);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({
      lines: total,
      pageviews: total - first.pageviews,
      duplicates: first.pageviews,
    });
  }, 120_000);

  it('refuses a compressed log instead of reading junk', async () => {
    const file = path.join(dir, 'access.log.gz');
    writeFileSync(file, gzipSync(`${line('/')}\n`));

    const result = await importFile(file);

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^lighttrail: ERR_IMPORT_FORMAT: the file is gzip-compressed/);
  });

  it('says so when no line reads in the chosen format, instead of reporting success', async () => {
    const file = path.join(dir, 'combined.log');
    writeFileSync(file, `${line('/a')}\n${line('/b')}\n`);

    const result = await runCli(['import', '--site', siteId, '--format', 'nginx-json', file], env);

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^lighttrail: ERR_IMPORT_FORMAT: no line of the file reads as nginx-json/,
    );
  });

  it('names the malformed lines in its summary: all of them, or the first ten (QA)', async () => {
    const few = path.join(dir, 'few-bad.log');
    writeFileSync(few, [line('/a'), 'garbage', line('/b'), 'more garbage'].join('\n'));
    const some = await runCli(['import', '--site', siteId, '--format', 'combined', few], env);
    expect(some.code, some.stderr).toBe(0);
    expect(some.stdout).toMatch(/malformed lines +2 \(lines 2, 4\)\n/);

    const many = path.join(dir, 'many-bad.log');
    writeFileSync(many, [line('/c'), ...Array.from({ length: 12 }, () => 'garbage')].join('\n'));
    const more = await runCli(['import', '--site', siteId, '--format', 'combined', many], env);
    expect(more.stdout).toMatch(/malformed lines +12 \(the first at lines 2, 3, .*, 11\)\n/);
  });

  it('skips proxy requests for other hosts and timestamps from the future', async () => {
    const file = path.join(dir, 'access.log');
    writeFileSync(
      file,
      [
        line('/welcome'),
        line('http://evil.example/abs'),
        line('https://www.clinic-a.example/own-absolute'),
        line('/later', '04/Dec/9999:10:00:00 +0000'),
      ].join('\n'),
    );

    const result = await importFile(file);

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      lines: 4,
      pageviews: 2,
      skipped: { 'foreign-host': 1, future: 1 },
    });
  });

  it("imports a virtual host's own lines, and a forged Host stops nothing", async () => {
    const file = path.join(dir, 'vhosts.jsonl');
    const entry = (target: string, host: string) =>
      JSON.stringify({
        time_iso8601: '2026-12-04T10:00:00+00:00',
        remote_addr: '198.51.100.7',
        request: `GET ${target} HTTP/1.1`,
        status: 200,
        body_bytes_sent: 512,
        http_user_agent: LOG_BROWSER_UA,
        host,
      });
    writeFileSync(
      file,
      [
        entry('/vhost-own', 'www.clinic-a.example:8443'),
        entry('/vhost-other', 'www.other-clinic.example'),
        entry('/vhost-forged', 'not a host'),
        entry('/vhost-port', 'www.clinic-a.example:99999'),
        entry('/vhost-slash', 'www.clinic-a.example/x'),
      ].join('\n'),
    );

    const result = await importFile(file, 'nginx-json');

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      lines: 5,
      malformed: 0,
      pageviews: 1,
      skipped: { 'foreign-host': 4 },
    });
  });
});
