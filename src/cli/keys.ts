import { statSync } from 'node:fs';

import type { ControlStore } from '../store/types.js';
import { parse, usage, type Command } from './command.js';
import { openContext, out, requireSoleUse } from './context.js';

export const keys: Command = {
  name: 'keys',
  summary: 'list or rotate the master key and tenant data keys',
  help: `Usage: lighttrail keys list
       lighttrail keys rotate --master
       lighttrail keys rotate --tenant ID

rotate --master   makes a new master key version current and re-wraps every data key,
                  salt and the control key under it; the old version is then retired.
                  With a key file the new key is written to it; with LIGHTTRAIL_MASTER_KEY
                  set, put the new key in LIGHTTRAIL_NEW_MASTER_KEY and switch to it after.
rotate --tenant   creates a new data key version for one organisation and re-encrypts its
                  database under it; the old key is destroyed.

Rotation rewrites key material, so the server must be stopped. Data is never re-read into
plaintext files: re-encryption happens page by page inside the encrypted database.`,

  async run(argv) {
    const { values, positionals } = parse(
      argv,
      { master: { type: 'boolean' }, tenant: { type: 'string' } },
      1,
    );
    if (values.help) return (out(this.help), 0);

    const action = positionals[0];
    const context = await openContext();
    try {
      const { control, config } = context;
      if (action === 'list') {
        for (const key of control.listKeys()) {
          out(
            `tenant ${key.tenantId}  v${key.version}  ${key.state}  sealed by ${key.masterVersion}`,
          );
        }

        out(`master key in use: ${context.provider.currentVersion()}`);

        return 0;
      }

      if (action !== 'rotate') throw usage('expected "keys list" or "keys rotate"');
      if (Boolean(values.master) === (values.tenant !== undefined)) {
        throw usage('keys rotate needs exactly one of --master or --tenant ID');
      }

      requireSoleUse(config, 'key rotation');
      if (values.master) {
        const version = await control.rotateMasterKey(
          'cli:keys',
          process.env.LIGHTTRAIL_NEW_MASTER_KEY,
        );
        out(`master key rotated: now ${version}; every wrapped key re-sealed`);

        return 0;
      }

      const tenantId = values.tenant as string;
      announceRotation(control, tenantId);
      const version = await control.rotateTenantKey(tenantId, 'cli:keys');
      out(`tenant ${tenantId}: data key v${version} is active and the database is re-encrypted`);

      return 0;
    } finally {
      context.control.close();
    }
  },
};

/**
 * Said before a tenant's file is re-encrypted, which holds the process for as long as copying
 * the file takes and leaves no moment to speak when Ctrl+C cuts it (QA: an interrupted
 * rotation exited without a word). What the user needs then is known beforehand.
 */
function announceRotation(control: ControlStore, tenantId: string): void {
  let size: number;
  try {
    size = statSync(control.tenantFile(tenantId)).size;
  } catch {
    // An unknown or unreadable organisation: the rotation itself says so, in its words.
    return;
  }

  out(
    `tenant ${tenantId}: re-encrypting ${megabytes(size)} into a copy; stopping it now is ` +
      'safe (the file stays under its current key and the next command removes the copy)',
  );
}

function megabytes(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MB`;
}
