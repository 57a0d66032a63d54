import { execFileSync, spawnSync } from 'node:child_process';

import { describe, expect, it } from 'vitest';

import { CLI, cliEnv } from '../helpers/cli.js';

/** Runs the CLI as if under Node.js `version` (process.versions replaced before it loads). */
function runAs(version: string, args: string[]) {
  const preload =
    'data:text/javascript,Object.defineProperty(process, "versions", ' +
    `{ value: { ...process.versions, node: "${version}" } })`;

  return spawnSync(process.execPath, ['--import', preload, CLI, ...args], {
    env: cliEnv({}),
    encoding: 'utf8',
  });
}

describe('the Node.js runtime the CLI needs', () => {
  it('refuses a Node.js without crypto.hash with one line naming both versions (QA)', () => {
    for (const version of ['18.20.4', '20.11.1', '21.6.2']) {
      const result = runAs(version, ['--help']);

      expect(result.status, version).toBe(1);
      expect(result.stderr, version).toBe(
        'lighttrail: ERR_NODE_VERSION: Node.js 20.12 or later (21.7 or later on 21) is needed; ' +
          `this is ${version}\n`,
      );
      expect(result.stdout, version).toBe('');
    }
  });

  it('runs on 20.12, on 21.7 and on later majors', () => {
    for (const version of ['20.12.0', '21.7.0', '22.1.0']) {
      const result = runAs(version, ['--help']);

      expect(result.status, version).toBe(0);
      expect(result.stdout, version).toContain('Usage: lighttrail <command>');
    }
  });

  it('states the same floor in package.json as it enforces', () => {
    const engines = execFileSync(process.execPath, [
      '-p',
      'require("./package.json").engines.node',
    ]).toString();

    expect(engines.trim()).toBe('^20.12.0 || >=21.7.0');
  });
});
