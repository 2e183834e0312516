/** The server-wide limit on concurrent backup/restore operations, and its default by memory. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultOperationLimit } from '../../src/ndmp/limits.js';
import { ndmjob, skipNdmjob, startServer } from './helpers/harness.js';
import { bigSource, holdBackup, type HeldBackup } from './helpers/held-backup.js';

test('the default limit follows system memory as ONTAP does', () => {
  const GiB = 1024 ** 3;
  assert.equal(defaultOperationLimit(8 * GiB), 4);
  assert.equal(defaultOperationLimit(16 * GiB), 16);
  assert.equal(defaultOperationLimit(23.9 * GiB), 16);
  assert.equal(defaultOperationLimit(24 * GiB), 32);
});

test('operations up to the limit run at once; one more is refused cleanly, and runs once a slot is free', { skip: skipNdmjob }, async () => {
  const limit = 2;
  const tapeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ndmpd-limit-'));
  const tapes = [0, 1, 2].map((i) => `tape${i}=${path.join(tapeDir, `tape${i}`)}`);
  const h = await startServer({ maxSessions: limit, tapes });
  const holders: HeldBackup[] = [];
  try {
    const src = bigSource(path.join(h.dir, 'vol', 'src'));
    for (let i = 0; i < limit; i++) holders.push(await holdBackup(h.port, `tape${i}`, src));
    assert.equal(h.server.context.operations.active, limit);
    const refused = await ndmjob(['-c', '-D', h.agent('t'), '-B', 'dump', '-C', src, '-f', 'tape2', '-v'], { cwd: h.dir });
    assert.match(refused.output, /limit of this server is 2/, refused.output.slice(-3000));
    assert.doesNotMatch(refused.output, /Operation ended OKAY/);
    // Free the slots: the sessions drop, their operations abort.
    for (const c of holders) c.client.close();
    for (let i = 0; i < 100 && h.server.context.operations.active > 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(h.server.context.operations.active, 0);
    const again = await ndmjob(['-c', '-D', h.agent('t'), '-B', 'dump', '-C', src, '-f', 'tape2', '-v'], { cwd: h.dir });
    assert.match(again.output, /Operation ended OKAY/, again.output.slice(-3000));
  } finally {
    for (const c of holders) c.client.close();
    await h.close();
    fs.rmSync(tapeDir, { recursive: true, force: true });
  }
});
