/** The session rules on the wire: greeting, version, authentication gate, unknown codes, auth variants. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { AuthType, NdmpErr } from '../../src/ndmp/codec/constants.js';
import { md5Digest } from '../../src/ndmp/auth.js';
import { RawClient } from './helpers/raw-client.js';
import { startServer } from './helpers/harness.js';

test('the server speaks first, gates requests before auth, answers unknown codes NOT_SUPPORTED', async () => {
  const h = await startServer();
  const c = await RawClient.connect(h.port);
  try {
    const hello = await c.next();
    assert.ok(hello?.ok && hello.name === 'NOTIFY_CONNECTION_STATUS');
    assert.deepEqual((hello.body as { reason: number; protocol_version: number }).protocol_version, 4);
    assert.equal(((await c.call('CONNECT_OPEN', { protocol_version: 3 })).body as { error: number }).error, NdmpErr.ILLEGAL_ARGS);
    assert.equal(((await c.call('CONNECT_OPEN', { protocol_version: 4 })).body as { error: number }).error, NdmpErr.NO_ERR);
    // Config is allowed before authentication, the rest is not.
    const host = await c.call('CONFIG_GET_HOST_INFO', undefined);
    assert.equal(host.header.error, 0);
    const tape = await c.call('TAPE_OPEN', { device: 'tape0', mode: 0 });
    assert.equal(tape.header.error, NdmpErr.NOT_AUTHORIZED);
    // MD5 without a challenge first is refused.
    const noChallenge = await c.call('CONNECT_CLIENT_AUTH', { auth_data: { type: AuthType.MD5, body: { auth_id: 'ndmp', auth_digest: Buffer.alloc(16) } } });
    assert.equal((noChallenge.body as { error: number }).error, NdmpErr.NOT_AUTHORIZED);
    const none = await c.call('CONNECT_CLIENT_AUTH', { auth_data: { type: AuthType.NONE, body: undefined } });
    assert.equal((none.body as { error: number }).error, NdmpErr.NOT_AUTHORIZED);
    const attr = await c.call('CONFIG_GET_AUTH_ATTR', { auth_type: AuthType.MD5 });
    const challenge = (attr.body as { server_attr: { type: number; body: Buffer } }).server_attr.body;
    assert.equal(challenge.length, 64);
    const bad = await c.call('CONNECT_CLIENT_AUTH', { auth_data: { type: AuthType.MD5, body: { auth_id: 'ndmp', auth_digest: md5Digest('nope', challenge) } } });
    assert.equal((bad.body as { error: number }).error, NdmpErr.NOT_AUTHORIZED);
    // The challenge was used up by the failed attempt: a fresh one is needed.
    const attr2 = await c.call('CONFIG_GET_AUTH_ATTR', { auth_type: AuthType.MD5 });
    const ch2 = (attr2.body as { server_attr: { body: Buffer } }).server_attr.body;
    assert.notDeepEqual(ch2, challenge);
    const good = await c.call('CONNECT_CLIENT_AUTH', { auth_data: { type: AuthType.MD5, body: { auth_id: 'ndmp', auth_digest: md5Digest('ndmp', ch2) } } });
    assert.equal((good.body as { error: number }).error, NdmpErr.NO_ERR);
    // Unknown code: header NOT_SUPPORTED, and the session goes on.
    const raw = Buffer.from('80000018' + '00000063' + '00000000' + '00000000' + '0000f00d' + '00000000' + '00000000', 'hex');
    c.sendRaw(raw);
    const ns = await c.next();
    assert.ok(ns && !ns.ok && ns.header?.replySequence === 0x63);
    const after = await c.call('CONFIG_GET_CONNECTION_TYPE', undefined);
    assert.equal(after.header.error, 0);
  } finally {
    c.close();
    await h.close();
  }
});

test('the MD5 digest is built over 128 bytes: password, challenge at 64 - n, password at 128 - n', () => {
  const ch = Buffer.alloc(64, 0xab);
  const buf = Buffer.alloc(128);
  buf.write('ndmp', 0);
  ch.copy(buf, 60);
  buf.write('ndmp', 124);
  assert.deepEqual(md5Digest('ndmp', ch), createHash('md5').update(buf).digest());
});

test('NONE login when the config allows it', async () => {
  const h = await startServer({ allowNoneAuth: true });
  const c = await RawClient.connect(h.port);
  try {
    await c.next();
    const none = await c.call('CONNECT_CLIENT_AUTH', { auth_data: { type: AuthType.NONE, body: undefined } });
    assert.equal((none.body as { error: number }).error, NdmpErr.NO_ERR);
    const tape = await c.call('TAPE_GET_STATE', undefined);
    assert.notEqual(tape.header.error, NdmpErr.NOT_AUTHORIZED);
  } finally {
    c.close();
    await h.close();
  }
});
