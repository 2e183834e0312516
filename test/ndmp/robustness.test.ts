/**
 * Hostile and broken input: malformed records, bad XDR, requests before authentication, random
 * message sequences, and paths outside the exported volumes. The server answers with errors or
 * closes the one connection; it never crashes, and nothing outside the volumes is touched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { AddrType, AuthType, DataState, NdmpErr } from '../../src/ndmp/codec/constants.js';
import { MESSAGES, isPost, type CallName } from '../../src/ndmp/codec/messages.js';
import { frameRecord } from '../../src/ndmp/wire/record-marking.js';
import { arb } from './helpers/arbitrary.js';
import { RawClient } from './helpers/raw-client.js';
import { startServer, type Harness } from './helpers/harness.js';

async function alive(h: Harness): Promise<void> {
  const c = await RawClient.connect(h.port);
  try {
    const hello = await c.next();
    assert.ok(hello?.ok && hello.name === 'NOTIFY_CONNECTION_STATUS');
    const r = await c.call('CONFIG_GET_HOST_INFO', undefined);
    assert.equal(r.header.error, 0);
  } finally {
    c.close();
  }
}

async function login(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  await c.next();
  await c.call('CONNECT_CLIENT_AUTH', { auth_data: { type: AuthType.TEXT, body: { auth_id: 'ndmp', auth_password: 'ndmp' } } });
  return c;
}

test('broken records: oversized fragments close the connection, bad bodies get XDR_DECODE, truncation is survived', async () => {
  const h = await startServer();
  try {
    const a = await RawClient.connect(h.port);
    await a.next();
    a.sendRaw(Buffer.from('7fffffff', 'hex'));
    assert.equal(await a.next(), null, 'closed');
    const b = await RawClient.connect(h.port);
    await b.next();
    // TAPE_OPEN whose string length runs past the body.
    const head = Buffer.from('00000001' + '00000000' + '00000000' + '00000300' + '00000000' + '00000000', 'hex');
    for (const f of frameRecord(Buffer.concat([head, Buffer.from('00001000' + '41414141', 'hex')]))) b.sendRaw(f);
    const bad = await b.next();
    assert.ok(bad?.ok && bad.header.error === NdmpErr.XDR_DECODE && bad.header.replySequence === 1 && bad.body === undefined);
    // A record shorter than a header: the stream cannot be trusted, the connection closes.
    for (const f of frameRecord(Buffer.alloc(8))) b.sendRaw(f);
    assert.equal(await b.next(), null);
    const c = await RawClient.connect(h.port);
    await c.next();
    c.sendRaw(Buffer.from('80000040000000', 'hex'));
    c.close();
    await alive(h);
  } finally {
    await h.close();
  }
});

test('random message sequences, before and after login, never bring the server down', async () => {
  const h = await startServer();
  const outside = path.join(h.dir, 'outside');
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'keep'), 'untouched');
  const calls = (Object.keys(MESSAGES) as Array<keyof typeof MESSAGES>).filter((n) => !isPost(n)) as CallName[];
  const message = fc.constantFrom(...calls).chain((name) => arb(MESSAGES[name].request).map((body) => ({ name, body })));
  try {
    await fc.assert(fc.asyncProperty(fc.boolean(), fc.array(message, { minLength: 1, maxLength: 25 }), async (authed, msgs) => {
      const c = authed ? await login(h.port) : await RawClient.connect(h.port);
      if (!authed) await c.next();
      try {
        for (const { name, body } of msgs) {
          // Keep outgoing connections on this machine: aim TCP addresses at closed local ports.
          const b = (body ?? {}) as Record<string, unknown>;
          const addr = b.addr as { type: number; body: Array<{ ip_addr: number; port: number }> } | undefined;
          if (addr?.type === AddrType.TCP) for (const a of addr.body) { a.ip_addr = 0x7f000001; a.port = 1; }
          if (name === 'DATA_START_BACKUP' || name === 'DATA_START_RECOVER') (b.env as Array<{ name: string; value: string }>).push({ name: 'FILESYSTEM', value: outside }, { name: 'PREFIX', value: outside });
          const seq = c.send(name, body as never);
          for (;;) {
            const m = await c.next(10_000);
            if (m === null) return;
            if (m.header?.messageType === 1 && m.header.replySequence === seq) break;
          }
        }
      } finally {
        c.close();
      }
    }), { numRuns: 60 });
    await alive(h);
    assert.deepEqual(fs.readdirSync(outside), ['keep']);
    assert.equal(fs.readFileSync(path.join(outside, 'keep'), 'utf8'), 'untouched');
  } finally {
    await h.close();
  }
});

test('paths outside the exported volumes are refused (absolute, .., symlink escape, unknown volume)', async () => {
  const h = await startServer();
  const vol = path.join(h.dir, 'vol');
  fs.mkdirSync(path.join(h.dir, 'secret'));
  fs.symlinkSync(path.join(h.dir, 'secret'), path.join(vol, 'escape'));
  const c = await login(h.port);
  try {
    for (const fsName of [path.join(h.dir, 'secret'), `${vol}/../secret`, `${vol}/escape`, '/nosuchvolume/x', 'relative/path', '/etc']) {
      await c.call('TAPE_OPEN', { device: 'tape0', mode: 1 });
      await c.call('MOVER_LISTEN', { mode: 0, addr_type: AddrType.LOCAL });
      assert.equal(((await c.call('DATA_CONNECT', { addr: { type: AddrType.LOCAL, body: undefined } })).body as { error: number }).error, 0);
      const r = await c.call('DATA_START_BACKUP', { butype_name: 'dump', env: [{ name: 'FILESYSTEM', value: fsName }] });
      assert.equal((r.body as { error: number }).error, NdmpErr.ILLEGAL_ARGS, fsName);
      const st = await c.call('DATA_GET_STATE', undefined);
      assert.equal((st.body as { state: number }).state, DataState.CONNECTED);
      await c.call('DATA_ABORT', undefined);
      await c.call('DATA_STOP', undefined);
      await c.call('MOVER_ABORT', undefined);
      await c.call('MOVER_STOP', undefined);
      await c.call('TAPE_CLOSE', undefined);
    }
    // The volume named as /NAME works; a restore destination outside is refused.
    await c.call('TAPE_OPEN', { device: 'tape0', mode: 0 });
    await c.call('MOVER_LISTEN', { mode: 1, addr_type: AddrType.LOCAL });
    await c.call('DATA_CONNECT', { addr: { type: AddrType.LOCAL, body: undefined } });
    const r = await c.call('DATA_START_RECOVER', { env: [{ name: 'PREFIX', value: `${vol}/escape/x` }], nlist: [], butype_name: 'dump' });
    assert.equal((r.body as { error: number }).error, NdmpErr.ILLEGAL_ARGS);
    assert.deepEqual(fs.readdirSync(path.join(h.dir, 'secret')), []);
  } finally {
    c.close();
    await h.close();
  }
});
