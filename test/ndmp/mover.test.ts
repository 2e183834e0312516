/**
 * The MOVER: the real `ndmjob -o test-mover` (state machine, 100 checks), then the data paths
 * over a real TCP data connection: records cut and the last one padded and counted, the window
 * end pausing with EOW, reads at unaligned offsets, EOF and SEEK pauses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { AuthType, MoverHalt, MoverPause, MoverState, NdmpErr, QUAD_ALL_ONES } from '../../src/ndmp/codec/constants.js';
import type { Decoded } from '../../src/ndmp/codec/message.js';
import { VirtualTape } from '../../src/tape/virtual-tape.js';
import { finalLine, ndmjob, skipNdmjob, startServer } from './helpers/harness.js';
import { RawClient } from './helpers/raw-client.js';

test('ndmjob -o test-mover passes with fail=0 and warn=0 (default and -b 64 record sizes)', { skip: skipNdmjob }, async () => {
  const h = await startServer();
  try {
    for (const extra of [[], ['-b', '64']]) {
      const r = await ndmjob(['-o', 'test-mover', '-T', h.agent('t'), '-f', 'tape0', '-v', ...extra]);
      assert.match(finalLine(r.output) ?? r.output.slice(-3000), /FINAL test-mover Passed -- pass=100 warn=0 fail=0/);
      assert.match(r.output, /LOCAL and TCP addressing tested/);
    }
  } finally {
    await h.close();
  }
});

type Body = Record<string, unknown>;
const body = (m: Decoded): Body => (m.ok ? m.body : {}) as Body;

async function login(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  await c.next();
  const r = await c.call('CONNECT_CLIENT_AUTH', { auth_data: { type: AuthType.TEXT, body: { auth_id: 'ndmp', auth_password: 'ndmp' } } });
  assert.equal(body(r).error, 0);
  return c;
}

function dataSocket(addr: Body): Promise<net.Socket> {
  const tcp = (addr.connect_addr as { body: Array<{ ip_addr: number; port: number }> }).body[0]!;
  assert.equal(tcp.ip_addr, 0x7f000001);
  return new Promise((resolve, reject) => {
    const s = net.connect(tcp.port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

async function waitPost(c: RawClient, name: string, posts: Decoded[]): Promise<Body> {
  for (;;) {
    const seen = posts.findIndex((p) => p.ok && p.name === name);
    if (seen >= 0) return body(posts.splice(seen, 1)[0]!);
    const m = await c.next(10_000);
    if (!m) throw new Error(`closed before ${name}`);
    posts.push(m);
  }
}

test('backup mode over TCP: records, padded last record counted, EOW pause and continue', async () => {
  const h = await startServer();
  const c = await login(h.port);
  const posts: Decoded[] = [];
  try {
    const rs = 1024;
    assert.equal(body(await c.call('MOVER_SET_RECORD_SIZE', { len: rs })).error, 0);
    assert.equal(body(await c.call('TAPE_OPEN', { device: 'tape0', mode: 1 })).error, 0);
    assert.equal(body(await c.call('MOVER_SET_WINDOW', { offset: 0n, length: BigInt(3 * rs) })).error, 0);
    const l = body(await c.call('MOVER_LISTEN', { mode: 0, addr_type: 1 }));
    assert.equal(l.error, 0);
    const sock = await dataSocket(l);
    const image = Buffer.alloc(4 * rs + 100);
    for (let i = 0; i < image.length; i++) image[i] = (i * 7 + (i >> 10)) & 0xff;
    sock.end(image);
    const paused = await waitPost(c, 'NOTIFY_MOVER_PAUSED', posts);
    assert.deepEqual(paused, { reason: MoverPause.EOW, seek_position: BigInt(3 * rs) });
    const st = body(await c.call('MOVER_GET_STATE', undefined, posts));
    assert.equal(st.state, MoverState.PAUSED);
    assert.equal(st.record_num, 3);
    // Tape operations are allowed while paused (a tape change would happen here).
    assert.equal(body(await c.call('TAPE_GET_STATE', undefined, posts)).blockno, 3);
    assert.equal(body(await c.call('MOVER_SET_WINDOW', { offset: BigInt(3 * rs), length: QUAD_ALL_ONES }, posts)).error, 0);
    assert.equal(body(await c.call('MOVER_CONTINUE', undefined, posts)).error, 0);
    const halted = await waitPost(c, 'NOTIFY_MOVER_HALTED', posts);
    assert.equal(halted.reason, MoverHalt.CONNECT_CLOSED);
    const end = body(await c.call('MOVER_GET_STATE', undefined, posts));
    assert.equal(end.state, MoverState.HALTED);
    assert.equal(end.record_num, 5, 'the padded last record counts');
    assert.equal(end.pause_reason, MoverPause.NA);
    assert.equal(body(await c.call('TAPE_MTIO', { tape_op: 5, count: 2 }, posts)).error, 0);
    assert.equal(body(await c.call('TAPE_CLOSE', undefined, posts)).error, 0);
    assert.equal(body(await c.call('MOVER_STOP', undefined, posts)).error, 0);
    const t = VirtualTape.open(`${h.dir}/tape0`, false);
    const got: Buffer[] = [];
    for (let r = t.read(1 << 20); r.kind === 'record'; r = t.read(1 << 20)) { assert.equal(r.length, rs); got.push(r.data); }
    t.close();
    const all = Buffer.concat(got);
    assert.equal(all.length, 5 * rs);
    assert.deepEqual(all.subarray(0, image.length), image);
    assert.ok(all.subarray(image.length).every((b) => b === 0));
  } finally {
    c.close();
    await h.close();
  }
});

test('recover mode over TCP: unaligned reads, SEEK outside the window, EOF at the filemark', async () => {
  const h = await startServer();
  const rs = 512;
  const image = Buffer.alloc(10 * rs);
  for (let i = 0; i < image.length; i++) image[i] = (i * 13 + (i >> 9)) & 0xff;
  const t = VirtualTape.open(`${h.dir}/tape0`, true);
  for (let i = 0; i < 10; i++) t.write(image.subarray(i * rs, (i + 1) * rs));
  t.writeFilemarks(1);
  t.close();
  const c = await login(h.port);
  const posts: Decoded[] = [];
  try {
    await c.call('MOVER_SET_RECORD_SIZE', { len: rs });
    assert.equal(body(await c.call('TAPE_OPEN', { device: 'tape0', mode: 0 })).error, 0);
    await c.call('MOVER_SET_WINDOW', { offset: 0n, length: BigInt(8 * rs) });
    const l = body(await c.call('MOVER_LISTEN', { mode: 1, addr_type: 1 }));
    assert.equal(l.error, 0);
    const sock = await dataSocket(l);
    const received: Buffer[] = [];
    let total = 0;
    let wake: (() => void) | null = null;
    sock.on('data', (b: Buffer) => { received.push(b); total += b.length; wake?.(); });
    const want = async (n: number) => {
      const deadline = Date.now() + 10_000;
      while (total < n) {
        if (Date.now() > deadline) throw new Error(`only ${total} of ${n} bytes arrived`);
        await new Promise<void>((r) => { wake = r; setTimeout(r, 200); });
      }
    };
    // Unaligned, inside one record, then across records; then backwards.
    assert.equal(body(await c.call('MOVER_READ', { offset: 1000n, length: 30n }, posts)).error, 0);
    await want(30);
    assert.equal(body(await c.call('MOVER_READ', { offset: 1500n, length: 1200n }, posts)).error, 0);
    await want(1230);
    assert.equal(body(await c.call('MOVER_READ', { offset: 100n, length: 10n }, posts)).error, 0);
    await want(1240);
    assert.deepEqual(Buffer.concat(received), Buffer.concat([image.subarray(1000, 1030), image.subarray(1500, 2700), image.subarray(100, 110)]));
    // A read still in progress refuses another.
    assert.equal(body(await c.call('MOVER_READ', { offset: BigInt(9 * rs), length: 10n }, posts)).error, 0);
    assert.equal(body(await c.call('MOVER_READ', { offset: 0n, length: 1n }, posts)).error, NdmpErr.READ_IN_PROGRESS);
    const seek = await waitPost(c, 'NOTIFY_MOVER_PAUSED', posts);
    assert.deepEqual(seek, { reason: MoverPause.SEEK, seek_position: BigInt(9 * rs) });
    // As after a tape change: the DMA positions the tape at the new window's start, then sets it.
    assert.equal(body(await c.call('TAPE_MTIO', { tape_op: 4, count: 1 }, posts)).error, 0);
    assert.equal(body(await c.call('MOVER_SET_WINDOW', { offset: 0n, length: QUAD_ALL_ONES }, posts)).error, 0);
    assert.equal(body(await c.call('MOVER_CONTINUE', undefined, posts)).error, 0);
    await want(1250);
    assert.deepEqual(Buffer.concat(received).subarray(1240), image.subarray(9 * rs, 9 * rs + 10));
    // Everything to the end: the filemark pauses with EOF.
    assert.equal(body(await c.call('MOVER_READ', { offset: BigInt(9 * rs + 10), length: 1n << 62n }, posts)).error, 0);
    const eof = await waitPost(c, 'NOTIFY_MOVER_PAUSED', posts);
    assert.equal(eof.reason, MoverPause.EOF);
    await want(1250 + rs - 10);
    assert.equal(body(await c.call('MOVER_CLOSE', undefined, posts)).error, 0);
    assert.equal((await waitPost(c, 'NOTIFY_MOVER_HALTED', posts)).reason, MoverHalt.CONNECT_CLOSED);
    sock.destroy();
  } finally {
    c.close();
    await h.close();
  }
});
