/** The server-wide limit on concurrent backup/restore operations, and its default by memory. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultOperationLimit } from '../../src/ndmp/limits.js';
import { AddrType, AuthType } from '../../src/ndmp/codec/constants.js';
import { ndmjob, skipNdmjob, startServer } from './helpers/harness.js';
import { RawClient } from './helpers/raw-client.js';

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
  const holders: RawClient[] = [];
  try {
    const src = path.join(h.dir, 'vol', 'src');
    fs.mkdirSync(src, { recursive: true });
    // A 10 MiB image: more than the data connection buffers, so a paused mover holds its backup.
    for (let i = 0; i < 40; i++) fs.writeFileSync(path.join(src, `f${i}`), Buffer.alloc(256 * 1024, i));
    for (let i = 0; i < limit; i++) {
      const c = await RawClient.connect(h.port);
      holders.push(c);
      await c.next();
      const call = async (name: Parameters<RawClient['call']>[0], body: unknown) => ((await c.call(name, body as never)).body as { error: number }).error;
      assert.equal(await call('CONNECT_CLIENT_AUTH', { auth_data: { type: AuthType.TEXT, body: { auth_id: 'ndmp', auth_password: 'ndmp' } } }), 0);
      assert.equal(await call('TAPE_OPEN', { device: `tape${i}`, mode: 1 }), 0);
      assert.equal(await call('MOVER_SET_RECORD_SIZE', { len: 1024 }), 0);
      // One record of window: the mover pauses (EOW) and the backup waits for it.
      assert.equal(await call('MOVER_SET_WINDOW', { offset: 0n, length: 1024n }), 0);
      assert.equal(await call('MOVER_LISTEN', { mode: 0, addr_type: AddrType.LOCAL }), 0);
      assert.equal(await call('DATA_CONNECT', { addr: { type: AddrType.LOCAL, body: undefined } }), 0);
      assert.equal(await call('DATA_START_BACKUP', { butype_name: 'dump', env: [{ name: 'FILESYSTEM', value: src }, { name: 'UPDATE', value: 'n' }] }), 0);
    }
    assert.equal(h.server.context.operations.active, limit);
    const refused = await ndmjob(['-c', '-D', h.agent('t'), '-B', 'dump', '-C', src, '-f', 'tape2', '-v'], { cwd: h.dir });
    assert.match(refused.output, /limit of this server is 2/, refused.output.slice(-3000));
    assert.doesNotMatch(refused.output, /Operation ended OKAY/);
    // Free the slots: the sessions drop, their operations abort.
    for (const c of holders) c.close();
    for (let i = 0; i < 100 && h.server.context.operations.active > 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(h.server.context.operations.active, 0);
    const again = await ndmjob(['-c', '-D', h.agent('t'), '-B', 'dump', '-C', src, '-f', 'tape2', '-v'], { cwd: h.dir });
    assert.match(again.output, /Operation ended OKAY/, again.output.slice(-3000));
  } finally {
    for (const c of holders) c.close();
    await h.close();
    fs.rmSync(tapeDir, { recursive: true, force: true });
  }
});
