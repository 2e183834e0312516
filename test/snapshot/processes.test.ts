/**
 * Snapshots across processes (the CLI as child processes): two backups of one subvolume at once
 * take the next free name; a backup killed with SIGKILL leaks its snapshot until
 * `snapdump snapshots prune` or the next backup removes it; SIGINT deletes it at once; a live
 * owner's snapshot is never pruned. The backups pause after their snapshot through the
 * SNAPDUMP_TEST_PAUSE_AFTER_SNAPSHOT hook, so each step happens at a known point.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SnapshotInfo } from '../../src/backup.js';
import { listRecords } from '../../src/snapshot/index.js';
import { snapdump, snapdumpBin } from '../helpers/cli.js';
import { canBtrfs, createSubvolume, listSubvolumes, mountBtrfs, type LoopBtrfs } from '../helpers/btrfs.js';
import { removeTree, tempDir } from '../helpers/tree.js';

interface Running {
  child: ChildProcess;
  pause: string;
  exit: Promise<{ status: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: string }>;
}

/** A hang guard, not a timing assertion: a step that never comes fails the test instead of blocking CI. */
const GIVE_UP_MS = 120_000;

async function waitForFile(file: string): Promise<string> {
  const deadline = Date.now() + GIVE_UP_MS;
  while (!fs.existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`${file} never appeared`);
    await sleep(20);
  }
  return fs.readFileSync(file, 'utf8');
}

function startBackup(args: string[], pause: string): Running {
  const child = spawn(process.execPath, [snapdumpBin, 'backup', ...args], {
    env: { ...process.env, SNAPDUMP_TEST_PAUSE_AFTER_SNAPSHOT: pause }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
  const exit = new Promise<{ status: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: string }>((resolve) => {
    child.on('close', (status, signal) => resolve({ status, signal, stderr, stdout }));
  });
  return { child, pause, exit };
}

async function paused(r: Running): Promise<SnapshotInfo> {
  const ended = r.exit.then((x) => { throw new Error(`the backup ended before its snapshot was ready (${x.status ?? x.signal}): ${x.stderr}`); });
  ended.catch(() => undefined); // once the snapshot is ready, its later normal end is no failure
  return JSON.parse(await Promise.race([waitForFile(`${r.pause}.ready`), ended])) as SnapshotInfo;
}

function resume(r: Running): void {
  fs.writeFileSync(`${r.pause}.go`, '');
}

describe('snapshots across processes', { skip: !canBtrfs && 'needs root, loop devices and btrfs-progs' }, () => {
  let fsx: LoopBtrfs;
  let work: string;
  let state: string;
  let vol: string;
  const children: ChildProcess[] = [];
  let n = 0;
  const backupArgs = () => [vol, '-f', path.join(work, `out-${++n}.dump`), '--state', state, '--quiet'];
  const pauseFile = () => path.join(work, `pause-${++n}`);
  const start = (args = backupArgs()) => {
    const r = startBackup(args, pauseFile());
    children.push(r.child);
    return r;
  };

  before(() => {
    work = tempDir('snapproc');
    state = path.join(work, 'state');
    fsx = mountBtrfs();
    vol = path.join(fsx.mnt, 'vol');
    createSubvolume(vol);
    fs.writeFileSync(path.join(vol, 'f'), 'content\n');
    fs.writeFileSync(path.join(vol, 'big'), Buffer.alloc(4 << 20, 1));
  });
  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    try { fsx?.cleanup(); } finally { removeTree(work); }
  });

  it('two backups in two processes hold .0 and .1; a live owner\'s snapshot is not pruned', async () => {
    const a = start();
    const infoA = await paused(a);
    const b = start();
    const infoB = await paused(b);
    assert.deepEqual([infoA.name, infoB.name], ['snapshot_for_backup.0', 'snapshot_for_backup.1'], 'the second process skips the name the first holds');
    const pruned = snapdump(['snapshots', 'prune', '--state', state, '--json']);
    assert.equal(pruned.status, 0, pruned.stderr);
    assert.deepEqual(pruned.events().filter((e) => e.type === 'pruned'), []);
    assert.ok(fs.existsSync(infoA.path!) && fs.existsSync(infoB.path!));
    const listed = snapdump(['snapshots', '--state', state]);
    assert.equal(listed.stdout.toString().split('\n').filter((l) => l.startsWith('live ')).length, 2, listed.stdout.toString());
    resume(a);
    resume(b);
    for (const r of [await a.exit, await b.exit]) assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(listSubvolumes(fsx.mnt), ['vol']);
    assert.deepEqual(listRecords(state), []);
  });

  it('kill -9 leaks the snapshot; snapdump snapshots prune removes it', async () => {
    const a = start();
    const info = await paused(a);
    a.child.kill('SIGKILL');
    assert.equal((await a.exit).signal, 'SIGKILL');
    assert.ok(fs.existsSync(info.path!), 'the killed backup could not delete its snapshot');
    const listed = snapdump(['snapshots', 'list', '--state', state, '--json']).events();
    assert.deepEqual(listed.map((e) => [e.path, e.status, e.exists]), [[info.path, 'orphan', true]]);
    const pruned = snapdump(['snapshots', 'prune', '--state', state, '--json']);
    assert.equal(pruned.status, 0, pruned.stderr);
    assert.deepEqual(pruned.events().filter((e) => e.type === 'pruned').map((e) => [e.path, e.outcome]), [[info.path, 'removed']]);
    assert.deepEqual(listSubvolumes(fsx.mnt), ['vol']);
    assert.deepEqual(listRecords(state), []);
  });

  it('kill -9, then the next backup removes the orphan', async () => {
    const a = start();
    const info = await paused(a);
    a.child.kill('SIGKILL');
    await a.exit;
    const r = snapdump(['backup', ...backupArgs().filter((x) => x !== '--quiet'), '--json']);
    assert.equal(r.status, 0, r.stderr);
    const prunedEvents = r.events().filter((e) => e.type === 'warning' && e.code === 'SNAPSHOT_PRUNED');
    assert.deepEqual(prunedEvents.map((e) => e.path), [info.path]);
    assert.deepEqual(listSubvolumes(fsx.mnt), ['vol']);
    assert.deepEqual(listRecords(state), []);
  });

  it('a snapshot that cannot be deleted is a warning (exit 0); prune removes it once its owner is gone', async () => {
    const a = start([...backupArgs().filter((x) => x !== '--quiet'), '--json']);
    const info = await paused(a);
    // A send in progress makes btrfs refuse to delete the snapshot (EPERM); its output is never
    // read, so it stays in progress until killed.
    const send = spawn('btrfs', ['send', '-q', info.path!], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(send);
    await new Promise((resolve) => send.stdout!.once('data', resolve));
    send.stdout!.pause();
    try {
      resume(a);
      const r = await a.exit;
      assert.equal(r.status, 0, r.stderr);
      const events = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      const warned = events.filter((e) => e.type === 'warning');
      assert.deepEqual(warned.map((e) => [e.code, e.path]), [['SNAPSHOT_DELETE', info.path]]);
      assert.match(String(warned[0]!.message), /snapshots prune/);
      assert.equal(events.find((e) => e.type === 'summary')?.exitStatus, 0);
      assert.ok(fs.existsSync(info.path!), 'the snapshot could not be deleted');
      assert.deepEqual(listRecords(state).map((x) => x.record?.path), [info.path], 'its record stays for prune');
    } finally {
      send.kill('SIGKILL');
      await new Promise((resolve) => send.once('close', resolve));
    }
    const pruned = snapdump(['snapshots', 'prune', '--state', state, '--json']);
    assert.deepEqual(pruned.events().filter((e) => e.type === 'pruned').map((e) => [e.path, e.outcome]), [[info.path, 'removed']]);
    assert.deepEqual(listSubvolumes(fsx.mnt), ['vol']);
  });

  it('SIGINT aborts the backup and deletes its snapshot at once', async () => {
    const args = backupArgs();
    const a = start(args);
    const info = await paused(a);
    a.child.kill('SIGINT');
    resume(a);
    const r = await a.exit;
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /ERR_ABORTED/);
    assert.equal(fs.existsSync(info.path!), false);
    assert.deepEqual(listSubvolumes(fsx.mnt), ['vol']);
    assert.deepEqual(listRecords(state), []);
    const out = args[2]!;
    assert.deepEqual(fs.readdirSync(path.dirname(out)).filter((x) => x.includes(path.basename(out))), [], 'no image left');
  });
});
