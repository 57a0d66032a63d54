import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

import Database from 'better-sqlite3-multiple-ciphers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

/**
 * Key rotations and organisation deletions run alone (QA, fifth session: a `migrate` during a
 * data key rotation left the organisation with no key at all; a `setup` during a master key
 * rotation sealed its key under the retired master key). Here the other command's lock is taken
 * by the test itself, as every command takes it, so the overlap is certain, not a race.
 */
describe('commands that rewrite keys run alone', () => {
  const { dir, cleanup } = tempDir('lighttrail-data-lock-');
  const env = {
    LIGHTTRAIL_DATA_DIR: dir,
    LIGHTTRAIL_MASTER_KEY: randomBytes(32).toString('hex'),
    LIGHTTRAIL_PORT: '0',
  };
  let organisationId: string;
  let siteId: string;

  beforeAll(async () => {
    const setup = await runCli(
      ['setup', '--org', 'A', '--domain', 'a.example', '--email', 'it@a.example', '--json'],
      env,
    );
    ({ organisationId, siteId } = JSON.parse(setup.stdout) as {
      organisationId: string;
      siteId: string;
    });
  });

  afterAll(() => cleanup());

  const lockFile = () => new Database(path.join(dir, 'data.lock'));
  const state = async () =>
    [
      (await runCli(['keys', 'list'], env)).stdout,
      (await runCli(['tenant', 'list'], env)).stdout,
    ].join('');

  it('refuses a rotation or a deletion while another command uses the folder', async () => {
    const before = await state();
    const other = lockFile();
    other.exec('BEGIN');
    other.prepare('SELECT count(*) FROM sqlite_master').get();
    try {
      for (const args of [
        ['keys', 'rotate', '--tenant', organisationId],
        ['keys', 'rotate', '--master'],
        ['tenant', 'delete', organisationId, '--confirm', organisationId],
      ]) {
        const refused = await runCli(args, env);

        expect(refused.code, args.join(' ')).toBe(1);
        expect(refused.stderr).toMatch(/^lighttrail: ERR_DATA_BUSY: .* needs .* to itself/);
        expect(refused.stderr.trim().split('\n')).toHaveLength(1);
      }
    } finally {
      other.close();
    }
    // Nothing began: no pending key, no organisation gone.
    expect(await state()).toBe(before);

    // Alone, the same rotation goes through.
    const rotated = await runCli(['keys', 'rotate', '--tenant', organisationId], env);
    expect(rotated.code, rotated.stderr).toBe(0);
    // Whatever a command leaves in the folder is its owner's alone, lock files included (QA).
    for (const name of readdirSync(dir)) {
      if (statSync(path.join(dir, name)).isFile()) {
        expect([name, statSync(path.join(dir, name)).mode & 0o777]).toEqual([name, 0o600]);
      }
    }
    // Said before the copy begins, since an interrupted copy leaves no moment to say it.
    const [announced, done] = rotated.stdout.trim().split('\n');
    expect(announced).toMatch(
      new RegExp(`^tenant ${organisationId}: re-encrypting \\d+\\.\\d MB into a copy; stopping`),
    );
    expect(done).toMatch(/data key v2 is active/);
  });

  it('refuses every other command while a rotation runs, before it reads a key', async () => {
    const before = await state();
    const rotation = lockFile();
    rotation.exec('BEGIN EXCLUSIVE');
    try {
      for (const args of [
        ['migrate'],
        ['start'],
        ['stats', '--site', siteId],
        ['setup', '--org', 'B', '--domain', 'b.example', '--email', 'it@b.example'],
      ]) {
        const refused = await runCli(args, env);

        expect(refused.code, args.join(' ')).toBe(1);
        expect(refused.stderr).toMatch(/^lighttrail: ERR_DATA_BUSY: .* key rotation/);
      }
    } finally {
      rotation.close();
    }
    expect(await state()).toBe(before);
  });

  it('doctor warns when the trusted proxies cover most of the internet (QA)', async () => {
    const broad = await runCli(['doctor'], {
      ...env,
      LIGHTTRAIL_TRUSTED_PROXIES: '10.0.0.0/8,0.0.0.0/0',
    });
    expect(broad.stdout).toContain('WARN  trusted proxies: 10.0.0.0/8, 0.0.0.0/0 trust networks');
    for (const spelled of [
      '::ffff:0:0/96',
      '0:0:0:0:0:ffff:0:0/96',
      '2000::/3',
      '128.0.0.0/1',
      '2600::/8',
      '64:ff9b::/96',
      '0064:ff9b:0::/96',
      '2002::/16',
    ]) {
      const other = await runCli(['doctor'], { ...env, LIGHTTRAIL_TRUSTED_PROXIES: spelled });
      expect(other.stdout, spelled).toContain(`WARN  trusted proxies: ${spelled} trust networks`);
    }

    // A CDN's published ranges are narrower: no warning.
    const narrow = await runCli(['doctor'], {
      ...env,
      LIGHTTRAIL_TRUSTED_PROXIES:
        '10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7,fe80::/10,64:ff9b:1::/48,' +
        '173.245.48.0/20,2a06:98c0::/29',
    });
    expect(narrow.stdout).toContain('ok    trusted proxies: 10.0.0.0/8');
    expect(narrow.stdout).not.toContain('WARN');
  });

  it('a command pointed at a missing data folder says so and creates nothing (QA)', async () => {
    const missing = path.join(dir, 'no-such-folder');
    for (const args of [['site', 'list'], ['migrate'], ['stats', '--site', siteId]]) {
      const refused = await runCli(args, { ...env, LIGHTTRAIL_DATA_DIR: missing });

      expect(refused.code, args.join(' ')).toBe(1);
      expect(refused.stderr).toMatch(/^lighttrail: ERR_NO_DATA: .*no-such-folder does not exist/);
      expect(refused.stderr.trim().split('\n')).toHaveLength(1);
      expect(existsSync(missing)).toBe(false);
    }

    // doctor reports it too, and makes nothing either.
    const doctor = await runCli(['doctor'], { ...env, LIGHTTRAIL_DATA_DIR: missing });
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(
      /FAIL {2}data folder: ERR_NO_DATA: .*no-such-folder does not exist/,
    );
    expect(existsSync(missing)).toBe(false);
  });
});
