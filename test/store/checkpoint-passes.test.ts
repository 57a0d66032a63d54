import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { checkpointInPasses } from '../../src/store/sqlite/checkpoint.js';
import { openEncrypted, type Db } from '../../src/store/sqlite/open.js';
import { useTenantFile } from '../helpers/tenant-file.js';

const OPEN = pathToFileURL(path.resolve(import.meta.dirname, '../../dist/store/sqlite/open.js'));

/**
 * A thread that commits small transactions into the file until told to stop, as the writer
 * thread does under load, and reports how many it committed.
 */
function committer(file: string, key: Buffer): Worker {
  const source = `
    import { parentPort, workerData } from 'node:worker_threads';
    const { openEncrypted } = await import(${JSON.stringify(OPEN.href)});
    const db = openEncrypted(workerData.file, Buffer.from(workerData.key), { create: false });
    db.pragma('wal_autocheckpoint = 0');
    const insert = db.prepare("INSERT INTO meta (key, value) VALUES (?, ?)");
    let stop = false;
    let commits = 0;
    parentPort.on('message', () => (stop = true));
    parentPort.postMessage('ready');
    while (!stop) {
      db.transaction(() => insert.run('k' + commits, 'x'.repeat(3000)))();
      commits += 1;
      // Lets the stop message in now and then.
      if (commits % 20 === 0) await new Promise((done) => setImmediate(done));
    }
    db.close();
    parentPort.postMessage(commits);
  `;

  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(source)}`), {
    workerData: { file, key: new Uint8Array(key) },
  });
}

const message = (worker: Worker) =>
  new Promise<unknown>((resolve) => worker.once('message', resolve));

describe('the checkpointer thread copies in passes', () => {
  const tenant = useTenantFile();
  let db: Db;

  beforeEach(() => {
    db = openEncrypted(tenant.file, tenant.key);
    db.pragma('wal_autocheckpoint = 0');
  });

  afterEach(() => db.close());

  it('copies again what was committed during its first pass', async () => {
    // A WAL of about 3,000 frames, as the writer leaves one when it asks for a checkpoint.
    const insert = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
    for (let n = 0; n < 3_000; n++)
      db.transaction(() => insert.run(`fill-${n}`, 'y'.repeat(3000)))();
    const worker = committer(tenant.file, tenant.key);
    await message(worker);
    // Let the other thread commit for a while before the checkpoint starts.
    await new Promise((done) => setTimeout(done, 50));

    const result = checkpointInPasses(db);
    worker.postMessage('stop');
    const commits = (await message(worker)) as number;
    await worker.terminate();

    expect(commits).toBeGreaterThan(0);
    // The first pass copied the bulk; the next copied what was committed during the first.
    expect(result.passes).toBeGreaterThanOrEqual(2);
    expect(result.copied[0]).toBeGreaterThan(3_000);
    expect(result.copied[1]).toBeGreaterThan(0);
  });

  it('stops when a reader on an older state holds the copy back', () => {
    const insert = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
    const write = (prefix: string) => {
      for (let n = 0; n < 200; n++)
        db.transaction(() => insert.run(`${prefix}-${n}`, 'r'.repeat(3000)))();
    };
    write('before');
    // A statistics read in progress: it sees the file as it was, so the frames after stay.
    const reader = openEncrypted(tenant.file, tenant.key);
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM meta').get();
    write('after');

    try {
      const result = checkpointInPasses(db);

      expect(result.passes).toBe(2);
      expect(result.copied[0]).toBeGreaterThan(200);
      expect(result.copied[1]).toBe(0);
      expect(result.left).toBeGreaterThan(200);
    } finally {
      reader.exec('COMMIT');
      reader.close();
    }
  });

  it('stops at the first pass that finds little to copy', () => {
    const insert = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
    for (let n = 0; n < 200; n++)
      db.transaction(() => insert.run(`quiet-${n}`, 'z'.repeat(3000)))();

    const result = checkpointInPasses(db);

    expect(result.passes).toBe(2);
    expect(result.copied[1]).toBe(0);
  });
});
