/**
 * Shutdown as ONTAP's override-vetoes: by default running backups finish before the server
 * goes; with override-vetoes they are aborted at once. A dropped session aborts its backup and
 * frees the tape. `snapdump ndmpd` exits cleanly on SIGTERM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { DataHalt } from '../../src/ndmp/codec/constants.js';
import { snapdumpBin } from '../helpers/cli.js';
import { bigSource, holdBackup, nextPost } from './helpers/held-backup.js';
import { startServer } from './helpers/harness.js';

const refused = (port: number) => new Promise<boolean>((resolve) => {
  const s = net.connect(port, '127.0.0.1');
  s.once('connect', () => { s.destroy(); resolve(false); });
  s.once('error', () => resolve(true));
});

test('default shutdown lets a running backup finish; new connections are refused meanwhile', async () => {
  const h = await startServer();
  try {
    const held = await holdBackup(h.port, 'tape0', bigSource(path.join(h.dir, 'vol', 'src')));
    let stopped = false;
    const stopping = h.server.stop({ abortRunning: false, graceMs: 5000 }).then(() => { stopped = true; });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(stopped, false, 'waits for the running backup');
    assert.equal(await refused(h.port), true);
    await held.release();
    assert.equal((await nextPost(held, 'NOTIFY_DATA_HALTED'))?.reason, DataHalt.SUCCESSFUL);
    held.client.close();
    await stopping;
    assert.equal(h.server.sessionCount, 0);
  } finally {
    await h.close();
  }
});

test('override-vetoes aborts running backups at once and frees the tape', async () => {
  const h = await startServer();
  try {
    const held = await holdBackup(h.port, 'tape0', bigSource(path.join(h.dir, 'vol', 'src')));
    await h.server.stop({ abortRunning: true });
    const halted = await nextPost(held, 'NOTIFY_DATA_HALTED', 5000).catch(() => null);
    assert.ok(halted === null || halted.reason === DataHalt.ABORTED);
    assert.equal(h.server.context.operations.active, 0);
    // A mover halted mid-write keeps the tape until that write is done.
    for (let i = 0; i < 100 && h.server.context.tapesInUse.size > 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(h.server.context.tapesInUse.size, 0);
    held.client.close();
  } finally {
    await h.close();
  }
});

test('a session dropped mid-backup aborts it and releases its tape for the next session', async () => {
  const h = await startServer();
  try {
    const src = bigSource(path.join(h.dir, 'vol', 'src'));
    const held = await holdBackup(h.port, 'tape0', src);
    held.client.close();
    for (let i = 0; i < 100 && (h.server.context.operations.active > 0 || h.server.context.tapesInUse.size > 0); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(h.server.context.operations.active, 0);
    assert.equal(h.server.context.tapesInUse.size, 0);
    const next = await holdBackup(h.port, 'tape0', src);
    next.client.close();
  } finally {
    await h.close();
  }
});

test('snapdump ndmpd prints where it listens and exits 0 on SIGTERM', async () => {
  const dir = fs.mkdtempSync('/tmp/ndmpd-cli-');
  try {
    fs.mkdirSync(path.join(dir, 'vol'));
    const child = spawn(process.execPath, [snapdumpBin, 'ndmpd', '--listen', '127.0.0.1:0', '--volume', `v=${dir}/vol`, '--tape', `t=${dir}/tape`, '--user', 'a:b', '--state', `${dir}/state`], { stdio: ['ignore', 'pipe', 'pipe'] });
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout.once('data', (b: Buffer) => resolve(b.toString()));
      child.once('exit', (code) => reject(new Error(`exited ${code}`)));
    });
    assert.match(line, /^listening on 127\.0\.0\.1:\d+\n$/);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    const bad = spawn(process.execPath, [snapdumpBin, 'ndmpd', '--volume', `v=${dir}/missing`, '--user', 'a:b'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    bad.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    assert.equal(await new Promise((r) => bad.once('exit', r)), 2);
    assert.match(err, /ERR_USAGE.*volume v: .*missing does not exist/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
