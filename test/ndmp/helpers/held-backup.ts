/**
 * A backup held in the middle: a raw session whose mover has a one-record window, so it pauses
 * (EOW) and the backup waits on it; `release()` opens the window so it runs to the end.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AddrType, AuthType, QUAD_ALL_ONES } from '../../../src/ndmp/codec/constants.js';
import type { Decoded } from '../../../src/ndmp/codec/message.js';
import { RawClient } from './raw-client.js';

/** A source whose image (10 MiB) is larger than the data connection buffers. */
export function bigSource(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < 40; i++) fs.writeFileSync(path.join(dir, `f${i}`), Buffer.alloc(256 * 1024, i));
  return dir;
}

export interface HeldBackup {
  client: RawClient;
  posts: Decoded[];
  release(): Promise<void>;
}

export async function holdBackup(port: number, tape: string, source: string): Promise<HeldBackup> {
  const c = await RawClient.connect(port);
  await c.next();
  const posts: Decoded[] = [];
  const call = async (name: Parameters<RawClient['call']>[0], body: unknown) => ((await c.call(name, body as never, posts)).body as { error: number }).error;
  assert.equal(await call('CONNECT_CLIENT_AUTH', { auth_data: { type: AuthType.TEXT, body: { auth_id: 'ndmp', auth_password: 'ndmp' } } }), 0);
  assert.equal(await call('TAPE_OPEN', { device: tape, mode: 1 }), 0);
  assert.equal(await call('MOVER_SET_RECORD_SIZE', { len: 1024 }), 0);
  assert.equal(await call('MOVER_SET_WINDOW', { offset: 0n, length: 1024n }), 0);
  assert.equal(await call('MOVER_LISTEN', { mode: 0, addr_type: AddrType.LOCAL }), 0);
  assert.equal(await call('DATA_CONNECT', { addr: { type: AddrType.LOCAL, body: undefined } }), 0);
  assert.equal(await call('DATA_START_BACKUP', { butype_name: 'dump', env: [{ name: 'FILESYSTEM', value: source }, { name: 'UPDATE', value: 'n' }] }), 0);
  return {
    client: c, posts,
    async release() {
      // Wait for the pause, then open the window.
      for (let i = 0; i < 100 && !posts.some((p) => p.ok && p.name === 'NOTIFY_MOVER_PAUSED'); i++) {
        const m = await c.next(10_000);
        if (m) posts.push(m);
      }
      assert.equal(await call('MOVER_SET_WINDOW', { offset: 1024n, length: QUAD_ALL_ONES }), 0);
      assert.equal(await call('MOVER_CONTINUE', undefined), 0);
    },
  };
}

/** Waits for a post of this name (from those collected or still to come); null if the connection closed. */
export async function nextPost(h: HeldBackup, name: string, timeoutMs = 30_000): Promise<Record<string, unknown> | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const i = h.posts.findIndex((p) => p.ok && p.name === name);
    if (i >= 0) { const p = h.posts.splice(i, 1)[0]!; return (p.ok ? p.body : {}) as Record<string, unknown>; }
    if (Date.now() > deadline) throw new Error(`no ${name}`);
    const m = await h.client.next(timeoutMs);
    if (m === null) return null;
    h.posts.push(m);
  }
}
