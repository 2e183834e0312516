/**
 * End of medium on a virtual tape with a capacity: TAPE_WRITE past it is EOM_ERR, the mover
 * pauses with EOM at the stream offset where writing stopped, ndmjob (no robot, so no next
 * tape) gives up as NDMP.md §10.4 describes, and a DMA that changes the tape gets the rest of the
 * image on the next one: the two tape files together are the complete image.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AddrType, AuthType, DataHalt, MoverHalt, MoverPause, MoverState, NdmpErr, QUAD_ALL_ONES } from '../../src/ndmp/codec/constants.js';
import type { Decoded } from '../../src/ndmp/codec/message.js';
import { loadConfig } from '../../src/ndmp/config.js';
import { restore } from '../../src/restore/index.js';
import { tapeFileRecords } from '../../src/tape/virtual-tape-files.js';
import { compareTrees, snapshotTree } from '../helpers/tree.js';
import { ndmjob, skipNdmjob, startServer } from './helpers/harness.js';
import { RawClient } from './helpers/raw-client.js';

type Body = Record<string, unknown>;
const body = (m: Decoded): Body => (m.ok ? m.body : {}) as Body;

/** About 1.3 MB of image: more than the 400 KiB tapes below hold. */
function source(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < 10; i++) fs.writeFileSync(path.join(dir, `f${i}`), Buffer.alloc(128 * 1024 + i * 100, 0x41 + i));
  return dir;
}

test('tape capacity: config and flags, sizes with suffixes, unknown tapes refused', () => {
  const dir = fs.mkdtempSync('/tmp/ndmpd-cap-');
  try {
    const cfg = path.join(dir, 'c.json');
    fs.writeFileSync(cfg, JSON.stringify({ tapes: { t0: 't0', t1: 't1' }, tapeCapacity: { t0: '64M' }, users: { u: 'p' } }));
    const c = loadConfig({ config: cfg, tapeCapacity: ['t1=4096'] });
    assert.equal(c.tapeCapacity.get('t0'), 64 << 20);
    assert.equal(c.tapeCapacity.get('t1'), 4096);
    assert.throws(() => loadConfig({ config: cfg, tapeCapacity: ['t1=lots'] }), /positive size/);
    assert.throws(() => loadConfig({ config: cfg, tapeCapacity: ['t9=1M'] }), /not a configured tape/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('ndmjob -c onto a full virtual tape: EOM pause, "Out of tapes", the job ends questionably, the tape is released', { skip: skipNdmjob }, async () => {
  const h = await startServer({ tapeCapacity: ['tape0=400K'] });
  try {
    const src = source(path.join(h.dir, 'vol', 'src'));
    const idx = path.join(h.dir, 'eom.idx');
    const c = await ndmjob(['-c', '-D', h.agent('t'), '-B', 'dump', '-C', src, '-f', 'tape0', '-I', idx, '-E', 'UPDATE=n', '-v'], { cwd: h.dir });
    assert.match(c.output, /Operation requires next tape/, c.output.slice(-2500));
    assert.match(c.output, /At EOM, not writing filemarks/);
    assert.match(c.output, /Out of tapes/);
    assert.match(c.output, /Operation ended questionably/);
    assert.doesNotMatch(c.output, /Operation ended OKAY/);
    // What was written fits the capacity and is whole records; the index records that much.
    const tape = path.join(h.dir, 'tape0');
    assert.ok(fs.statSync(tape).size <= 400 * 1024);
    let bytes = 0;
    for await (const r of tapeFileRecords(tape)) { assert.equal(r.length, 10240); bytes += r.length; }
    assert.ok(bytes > 300 * 1024, `${bytes} bytes on tape`);
    assert.match(fs.readFileSync(idx, 'utf8'), new RegExp(`^CM 01 \\+0/${bytes / 1024}K$`, 'm'));
    assert.equal(h.server.context.tapesInUse.size, 0);
    assert.equal(h.server.context.operations.active, 0);
  } finally {
    await h.close();
  }
});

test('EOM with a tape change (raw DMA): TAPE_WRITE past the end is EOM_ERR; the rest goes on the next tape', async () => {
  const h = await startServer({ tapeCapacity: ['tape0=400K'] });
  const c = await RawClient.connect(h.port);
  const posts: Decoded[] = [];
  const call = async (name: Parameters<RawClient['call']>[0], b: unknown) => body(await c.call(name, b as never, posts));
  const waitPost = async (name: string): Promise<Body> => {
    for (;;) {
      const i = posts.findIndex((p) => p.ok && p.name === name);
      if (i >= 0) return body(posts.splice(i, 1)[0]!);
      const m = await c.next(30_000);
      if (!m) throw new Error(`closed before ${name}`);
      posts.push(m);
    }
  };
  try {
    await c.next();
    assert.equal((await call('CONNECT_CLIENT_AUTH', { auth_data: { type: AuthType.TEXT, body: { auth_id: 'ndmp', auth_password: 'ndmp' } } })).error, 0);
    const src = source(path.join(h.dir, 'vol', 'src'));
    const rs = 10240;

    // TAPE_WRITE itself: records are refused once the next would not fit; filemarks still go on.
    assert.equal((await call('TAPE_OPEN', { device: 'tape0', mode: 1 })).error, 0);
    const st0 = await call('TAPE_GET_STATE', undefined);
    assert.equal(st0.total_space, 400n * 1024n);
    let written = 0;
    for (;;) {
      const w = await call('TAPE_WRITE', { data_out: Buffer.alloc(64 * 1024, 1) });
      if (w.error !== NdmpErr.NO_ERR) { assert.equal(w.error, NdmpErr.EOM); break; }
      written++;
    }
    assert.equal(written, 6);
    assert.ok((await call('TAPE_GET_STATE', undefined)).space_remain as bigint < 64n * 1024n + 16n);
    assert.equal((await call('TAPE_MTIO', { tape_op: 5, count: 1 })).error, 0);
    assert.equal((await call('TAPE_MTIO', { tape_op: 4, count: 1 })).error, 0);

    // A backup: the mover pauses with EOM where writing stopped.
    assert.equal((await call('MOVER_SET_RECORD_SIZE', { len: rs })).error, 0);
    assert.equal((await call('MOVER_SET_WINDOW', { offset: 0n, length: QUAD_ALL_ONES })).error, 0);
    assert.equal((await call('MOVER_LISTEN', { mode: 0, addr_type: AddrType.LOCAL })).error, 0);
    assert.equal((await call('DATA_CONNECT', { addr: { type: AddrType.LOCAL, body: undefined } })).error, 0);
    assert.equal((await call('DATA_START_BACKUP', { butype_name: 'dump', env: [{ name: 'FILESYSTEM', value: src }, { name: 'UPDATE', value: 'n' }] })).error, 0);
    const paused = await waitPost('NOTIFY_MOVER_PAUSED');
    assert.equal(paused.reason, MoverPause.EOM);
    const seek = paused.seek_position as bigint;
    const ms = await call('MOVER_GET_STATE', undefined);
    assert.equal(ms.state, MoverState.PAUSED);
    assert.equal(BigInt(ms.record_num as number) * BigInt(rs), seek);
    assert.ok(seek > 300n * 1024n && seek % BigInt(rs) === 0n, String(seek));

    // The tape change, as ndmjob does it with a robot: close, open the next, window from the seek position, continue.
    assert.equal((await call('TAPE_MTIO', { tape_op: 4, count: 1 })).error, 0);
    assert.equal((await call('TAPE_CLOSE', undefined)).error, 0);
    assert.equal((await call('TAPE_OPEN', { device: 'tape1', mode: 1 })).error, 0);
    assert.equal((await call('MOVER_SET_WINDOW', { offset: seek, length: QUAD_ALL_ONES })).error, 0);
    assert.equal((await call('MOVER_CONTINUE', undefined)).error, 0);
    assert.deepEqual(await waitPost('NOTIFY_MOVER_HALTED'), { reason: MoverHalt.CONNECT_CLOSED });
    assert.deepEqual(await waitPost('NOTIFY_DATA_HALTED'), { reason: DataHalt.SUCCESSFUL });
    assert.equal((await call('TAPE_MTIO', { tape_op: 5, count: 2 })).error, 0);
    assert.equal((await call('TAPE_CLOSE', undefined)).error, 0);

    // Tape 0's file plus tape 1's file are the image, which restores to the source.
    const parts: Buffer[] = [];
    for (const t of ['tape0', 'tape1']) for await (const r of tapeFileRecords(path.join(h.dir, t))) parts.push(r);
    assert.equal(parts.slice(0, Number(seek) / rs).reduce((n, p) => n + p.length, 0), Number(seek));
    const image = path.join(h.dir, 'spanned.dump');
    fs.writeFileSync(image, Buffer.concat(parts));
    const dest = path.join(h.dir, 'restored');
    await restore({ files: [image], dest });
    const ignore = (rel: string) => rel === '.snapdump-restore.json';
    assert.deepEqual(compareTrees(snapshotTree(src), snapshotTree(dest, { ignore }), { mtimeResolutionNs: 1000n }), []);
  } finally {
    c.close();
    await h.close();
  }
});
