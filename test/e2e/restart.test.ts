/**
 * Restartable backups: interrupted in the file phase at many points (abort, SIGINT, kill -9, a
 * full output disk), restarted, and checked — byte for byte against an uninterrupted backup of
 * the same tree, and by restoring with snapdump and with the real Linux restore -r.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backup, type BackupEvent } from '../../src/backup.js';
import { restartBackup } from '../../src/restart.js';
import { readContext, writeContext } from '../../src/context/context-store.js';
import { restore } from '../../src/restore/index.js';
import { isSnapdumpError, type SnapdumpError } from '../../src/errors.js';
import { compareTrees, haveProgram, isRoot, pseudoRandom, removeTree, run, snapshotTree, tempDir } from '../helpers/tree.js';
import { snapdump, snapdumpBin } from '../helpers/cli.js';

const NOW = new Date('2026-06-01T12:00:00Z');

/** Small and large files, a sparse one, links; atimes set ahead so reading never changes them. */
function buildSource(root: string, seed: number, large: boolean): void {
  fs.mkdirSync(root, { recursive: true });
  let rnd = seed;
  const next = () => { rnd = (rnd * 1103515245 + 12345) % 2 ** 31; return rnd; };
  // With large files, more small ones too: enough writes for several checkpoints around the copied ranges.
  for (let d = 0; d < (large ? 16 : 8); d++) {
    const dir = path.join(root, `d${d}`);
    fs.mkdirSync(dir);
    for (let f = 0; f < 40; f++) fs.writeFileSync(path.join(dir, `f${f}`), pseudoRandom(next() % 60_000, seed + d * 100 + f));
  }
  if (large) for (let i = 0; i < 3; i++) fs.writeFileSync(path.join(root, `big${i}`), pseudoRandom((3 << 20) + next() % 100_000, seed + 7000 + i));
  const sparse = fs.openSync(path.join(root, 'sparse'), 'w');
  fs.writeSync(sparse, Buffer.from('tail'), 0, 4, 5 << 20);
  fs.closeSync(sparse);
  fs.symlinkSync('d0/f1', path.join(root, 'link'));
  fs.linkSync(path.join(root, 'd1/f2'), path.join(root, 'hard'));
  run('mkfifo', [path.join(root, 'fifo')]);
  const future = NOW.getTime() / 1000 + 10 * 365 * 86400;
  const walk = (p: string) => {
    for (const e of fs.readdirSync(p, { withFileTypes: true })) {
      const full = path.join(p, e.name);
      if (e.isDirectory()) walk(full);
      fs.lutimesSync(full, future, fs.lstatSync(full).mtimeMs / 1000);
    }
  };
  walk(root);
  fs.utimesSync(root, future, fs.statSync(root).mtimeMs / 1000);
}

/** The first differing 1 KiB block of two images, described; null when they are identical. */
function firstDifference(a: Buffer, b: Buffer): string | null {
  if (a.equals(b)) return null;
  for (let o = 0; o < Math.max(a.length, b.length); o += 1024) {
    if (!a.subarray(o, o + 1024).equals(b.subarray(o, o + 1024))) {
      const bytes = [];
      for (let i = o; i < o + 1024; i++) if (a[i] !== b[i]) bytes.push(i - o);
      return `block ${o / 1024} (byte ${o}) differs at offsets ${bytes.slice(0, 8).join(',')}; sizes ${a.length} ${b.length}`;
    }
  }
  return `sizes ${a.length} ${b.length}`;
}

function contextIds(state: string): string[] {
  const dir = path.join(state, 'contexts');
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)) : [];
}

function partials(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.includes('.partial-'));
}

async function restoredBySnapdump(image: string, dest: string): Promise<void> {
  fs.mkdirSync(dest);
  const s = await restore({ files: [image], dest, force: true });
  assert.equal(s.exitStatus, 0, JSON.stringify(s));
}

function restoredByLinux(image: string, dest: string): void {
  fs.mkdirSync(dest);
  const r = run('restore', ['-r', '-y', '-f', image], { cwd: dest });
  assert.equal(r.status, 0, r.stderr);
  fs.rmSync(path.join(dest, 'restoresymtable'));
}

function assertSameTree(src: string, dest: string): void {
  const diffs = compareTrees(snapshotTree(src), snapshotTree(dest, { ignore: (rel) => rel === '.snapdump-restore.json' }), { mtimeResolutionNs: 1000n });
  assert.deepEqual(diffs, []);
}

describe('restartable backups', () => {
  let work: string;
  before(() => { work = tempDir('restart'); });
  after(() => removeTree(work));

  for (const large of [false, true]) {
    it(`aborted at random checkpoints and restarted, the image is byte-identical to an uninterrupted one (${large ? 'large' : 'small'} files)`, async () => {
      const src = path.join(work, `lib-${large}`);
      const state = path.join(work, `lib-${large}-state`);
      buildSource(src, large ? 11 : 3, large);
      const ref = path.join(work, `lib-${large}-ref.dump`);
      let checkpoints = 0;
      await backup({ source: src, output: ref, now: () => NOW, stateDir: state, update: false, threads: 2, checkpointIntervalMs: 0,
        onEvent: (e) => { if (e.type === 'checkpoint') checkpoints++; } });
      // Two or more (a checkpoint per 4 MiB write whose start is on disk; how writes batch varies
      // from run to run, and 3 or 4 is usual): the aborts below land in the first half of them.
      assert.ok(checkpoints >= 2, `only ${checkpoints} checkpoints`);
      const refBytes = fs.readFileSync(ref);
      for (const seed of [1, 2, 3]) {
        // How many checkpoints a run makes depends on how its writes batch (timing): abort in the
        // first half of the reference's, which every run reaches.
        const at = 1 + ((seed * 7919) % Math.max(1, Math.floor(checkpoints / 2)));
        const out = path.join(work, `lib-${large}-${seed}.dump`);
        const controller = new AbortController();
        let seen = 0;
        const onEvent = (e: BackupEvent) => { if (e.type === 'checkpoint' && ++seen === at) controller.abort(); };
        const err = await backup({ source: src, output: out, now: () => NOW, stateDir: state, update: false, threads: 2, checkpointIntervalMs: 0, signal: controller.signal, onEvent })
          .then(() => null, (e: SnapdumpError) => e);
        assert.ok(err && isSnapdumpError(err) && err.code === 'ERR_ABORTED', err === null ? `finished after ${seen} checkpoints, before checkpoint ${at}` : String(err));
        assert.match(err.message, /restartable from its checkpoint/);
        const id = err.details.context as string;
        assert.equal(fs.existsSync(out), false, 'no complete-looking image before the restart');
        const ctx = await readContext(state, id);
        assert.equal(ctx.status, 'interrupted');
        assert.equal(ctx.phase, 'files');
        const summary = await restartBackup({ id, stateDir: state, threads: 2, checkpointIntervalMs: 0 });
        assert.equal(summary.exitStatus, 0);
        const got = fs.readFileSync(out);
        assert.equal(firstDifference(got, refBytes), null, `seed ${seed}: restarted image differs from the uninterrupted one`);
        assert.deepEqual(contextIds(state), [], 'a completed restart removes its context');
        assert.deepEqual(partials(work), []);
      }
    });
  }

  it('checkpoints made in the background (interval > 0) restart to the same image', async () => {
    const src = path.join(work, 'async');
    const state = path.join(work, 'async-state');
    buildSource(src, 71, true);
    const ref = path.join(work, 'async-ref.dump');
    await backup({ source: src, output: ref, now: () => NOW, stateDir: state, update: false, threads: 2, history: false });
    const out = path.join(work, 'async.dump');
    const controller = new AbortController();
    let seen = 0;
    const err = await backup({ source: src, output: out, now: () => NOW, stateDir: state, update: false, threads: 1, checkpointIntervalMs: 1,
      signal: controller.signal, onEvent: (e) => { if (e.type === 'checkpoint' && ++seen === 1) controller.abort(); } })
      .then(() => null, (e: SnapdumpError) => e);
    if (err === null) return; // the backup finished before its first background checkpoint landed: nothing to restart
    assert.equal(err.code, 'ERR_ABORTED');
    const summary = await restartBackup({ id: err.details.context as string, stateDir: state, threads: 2 });
    assert.equal(summary.exitStatus, 0);
    assert.equal(firstDifference(fs.readFileSync(out), fs.readFileSync(ref)), null);
  });

  it('stopped in phases I-III: not restartable, the reason is given, nothing is kept', async () => {
    const src = path.join(work, 'early');
    const state = path.join(work, 'early-state');
    buildSource(src, 5, false);
    for (const phase of ['traverse', 'directories']) {
      const controller = new AbortController();
      const out = path.join(work, `early-${phase}.dump`);
      const err = await backup({ source: src, output: out, stateDir: state, signal: controller.signal,
        onEvent: (e) => { if (e.type === 'phase' && e.phase === phase) controller.abort(); } }).then(() => null, (e: SnapdumpError) => e);
      assert.equal(err?.code, 'ERR_ABORTED');
      assert.match(err!.message, /not restartable \(it stopped in phase (I|III)/);
      assert.equal(err!.details.context, null);
      assert.deepEqual(contextIds(state), []);
      assert.deepEqual(partials(work), []);
    }
  });

  it('kill -9 at random points of phase IV, then restart: both restores rebuild the source', { skip: !haveProgram('restore') }, async () => {
    const src = path.join(work, 'kill');
    const state = path.join(work, 'kill-state');
    buildSource(src, 21, true);
    for (const seed of [1, 2, 3]) {
      const out = path.join(work, `kill-${seed}.dump`);
      const child = spawn(process.execPath, [snapdumpBin, 'backup', src, '-f', out, '--state', state, '--json', '--threads', '1', '--no-update'], {
        stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SNAPDUMP_CHECKPOINT_MS: '0', SNAPDUMP_TEST_WRITE_DELAY_MS: '40' },
      });
      // A point in phase IV: some time after its first checkpoint (writes are slowed to 40 ms each).
      const delay = (seed * 37) % 150;
      let armed = false;
      child.stdout.on('data', (d: Buffer) => {
        if (!armed && d.toString().includes('"type":"checkpoint"')) { armed = true; setTimeout(() => child.kill('SIGKILL'), delay); }
      });
      const { code, signal } = await new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('close', (c, s) => resolve({ code: c, signal: s })));
      assert.equal(signal, 'SIGKILL', `seed ${seed}: the backup ended (${code}) before the kill ${delay} ms after its first checkpoint`);
      const ids = contextIds(state);
      assert.equal(ids.length, 1);
      const list = snapdump(['contexts', '--state', state, '--json']).events();
      assert.equal(list[0]!.restartable, true);
      assert.equal(list[0]!.busy, false);
      const r = snapdump(['backup', '--restart', ids[0]!, '--state', state]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /reads the live tree/);
      assert.deepEqual(contextIds(state), []);
      const a = path.join(work, `kill-${seed}-snapdump`);
      await restoredBySnapdump(out, a);
      assertSameTree(src, a);
      const b = path.join(work, `kill-${seed}-linux`);
      restoredByLinux(out, b);
      assertSameTree(src, b);
      removeTree(a); removeTree(b); fs.rmSync(out);
    }
  });

  it('SIGINT in phase IV checkpoints and says the backup is restartable; SIGINT earlier cleans up', async () => {
    const src = path.join(work, 'sigint');
    const state = path.join(work, 'sigint-state');
    buildSource(src, 31, true);
    const out = path.join(work, 'sigint.dump');
    const child = spawn(process.execPath, [snapdumpBin, 'backup', src, '-f', out, '--state', state, '--json', '--threads', '1'], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SNAPDUMP_CHECKPOINT_MS: '0', SNAPDUMP_TEST_WRITE_DELAY_MS: '40' },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    let sent = false;
    child.stdout.on('data', (d: Buffer) => { if (!sent && d.toString().includes('"type":"checkpoint"')) { sent = true; child.kill('SIGINT'); } });
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    assert.equal(code, 2, stderr);
    assert.match(stderr, /ERR_ABORTED.*restartable from its checkpoint: snapdump backup --restart [0-9a-f-]{36}/);
    const id = /--restart ([0-9a-f-]{36})/.exec(stderr)![1]!;
    const show = snapdump(['contexts', 'show', id, '--state', state]);
    assert.match(show.stdout.toString(), /Is Restartable\s+true/);
    assert.match(show.stdout.toString(), /Restart Pass\s+IV/);
    const r = snapdump(['backup', '--restart', id, '--state', state, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const dest = path.join(work, 'sigint-restored');
    await restoredBySnapdump(out, dest);
    assertSameTree(src, dest);
    // The history records the restarted backup as a complete level 0.
    const hist = snapdump(['history', '--state', state, '--json']).events();
    assert.equal(hist.length, 1);
  });

  it('a live tree that changed before the restart: vanished objects become placeholders of their type, reported', { skip: !haveProgram('restore') }, async () => {
    const src = path.join(work, 'live');
    const state = path.join(work, 'live-state');
    buildSource(src, 41, false);
    const out = path.join(work, 'live.dump');
    const controller = new AbortController();
    const err = await backup({ source: src, output: out, stateDir: state, update: false, threads: 1, checkpointIntervalMs: 0, signal: controller.signal,
      onEvent: (e) => { if (e.type === 'checkpoint') controller.abort(); } }).then(() => null, (e: SnapdumpError) => e);
    const id = err!.details.context as string;
    const ctx = await readContext(state, id);
    // Objects after the checkpoint: remove one file, turn another into a directory.
    const later = (await import('../../src/context/file-list.js')).decodeFileList(
      fs.readFileSync(path.join(state, 'contexts', `${id}.files`)), 'files').filter((e) => e.ino > ctx.checkpoint!.ino && e.type === 0o100000);
    const byIno = new Map<number, string>();
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, e.name);
        if (e.isDirectory()) walk(full);
        else if (e.isFile() && fs.lstatSync(full).nlink === 1) byIno.set(fs.lstatSync(full).ino, full);
      }
    };
    walk(src);
    const candidates = later.filter((e) => byIno.has(e.ino));
    assert.ok(candidates.length >= 2, `only ${candidates.length} single-link files after the checkpoint`);
    const gone = byIno.get(candidates[0]!.ino)!;
    const swapped = byIno.get(candidates[1]!.ino)!;
    fs.rmSync(gone);
    fs.rmSync(swapped);
    fs.mkdirSync(swapped);
    const summary = await restartBackup({ id, stateDir: state, threads: 1 });
    assert.equal(summary.exitStatus, 1);
    assert.equal(summary.skipped.filter((n) => n.code === 'VANISHED').length, 2);
    const dest = path.join(work, 'live-linux');
    restoredByLinux(out, dest);
    const rel = (p: string) => path.relative(src, p);
    for (const p of [gone, swapped]) {
      const st = fs.lstatSync(path.join(dest, rel(p)));
      assert.ok(st.isFile() && st.size === 0, `${rel(p)} is an empty placeholder file`);
    }
  });

  it('refuses restarts that cannot work, each with its reason', async () => {
    const src = path.join(work, 'refuse');
    const state = path.join(work, 'refuse-state');
    buildSource(src, 51, false);
    const interrupted = async (name: string): Promise<string> => {
      const controller = new AbortController();
      const err = await backup({ source: src, output: path.join(work, name), stateDir: state, threads: 1, checkpointIntervalMs: 0, signal: controller.signal,
        onEvent: (e) => { if (e.type === 'checkpoint') controller.abort(); } }).then(() => null, (e: SnapdumpError) => e);
      return err!.details.context as string;
    };
    const expectRefusal = async (id: string, code: string, reason: RegExp) => {
      await assert.rejects(restartBackup({ id, stateDir: state }), (e) => isSnapdumpError(e) && e.code === code && reason.test(e.message));
    };
    await expectRefusal('7b1e0a52-5a3c-4f63-9f5e-2f0c4b7e9d11', 'ERR_CONTEXT', /no backup context/);

    const gone = await interrupted('gone.dump');
    const ctxGone = await readContext(state, gone);
    ctxGone.snapshot = { name: 'snapshot_for_backup.0', path: path.join(work, 'no-such-snapshot'), autoCreated: true, recordId: null };
    await writeContext(state, ctxGone);
    await expectRefusal(gone, 'ERR_NOT_RESTARTABLE', /snapshot snapshot_for_backup\.0 .* is gone/);

    const flipped = await interrupted('flipped.dump');
    const ctxF = await readContext(state, flipped);
    const fd = fs.openSync(ctxF.partial!, 'r+');
    fs.writeSync(fd, Buffer.from([0xff]), 0, 1, ctxF.checkpoint!.offset + 20);
    fs.closeSync(fd);
    await expectRefusal(flipped, 'ERR_NOT_RESTARTABLE', /offset verify failed/);

    const cut = await interrupted('cut.dump');
    fs.truncateSync((await readContext(state, cut)).partial!, 1024);
    await expectRefusal(cut, 'ERR_NOT_RESTARTABLE', /shorter/);

    const busy = await interrupted('busy.dump');
    const ctxB = await readContext(state, busy);
    ctxB.owner = { pid: process.pid, host: (await import('node:os')).hostname(), bootId: null, start: null, acquired: '', token: 'x' };
    await writeContext(state, ctxB);
    await expectRefusal(busy, 'ERR_BUSY', /busy/);

    // A stream output cannot be rewound: its context is never restartable (kept only while running).
    const stream = snapdump(['backup', src, '-f', '-', '--state', state, '--no-update'], {});
    assert.equal(stream.status, 0);
    const r = snapdump(['backup', '--restart', busy, '-f', 'x', '--state', state]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /ERR_USAGE/);
  });

  it('the output file system fills up: the context stays restartable, and after space is freed the restart completes', { skip: !isRoot || !haveProgram('mkfs.ext4') }, async () => {
    const src = path.join(work, 'full');
    const state = path.join(work, 'full-state');
    // Small files only: large ones may come first in inode order (the allocator decides), and
    // copied in one go they could fill the disk before any checkpoint.
    buildSource(src, 61, false);
    const img = path.join(work, 'full.ext4');
    const mnt = path.join(work, 'full-mnt');
    fs.mkdirSync(mnt);
    fs.writeFileSync(img, Buffer.alloc(0));
    fs.truncateSync(img, 48 << 20);
    assert.equal(run('mkfs.ext4', ['-q', '-F', '-m', '0', img]).status, 0);
    assert.equal(run('mount', ['-o', 'loop', img, mnt]).status, 0);
    try {
      const filler = path.join(mnt, 'filler');
      const free = () => { const s = fs.statfsSync(mnt); return s.bavail * s.bsize; };
      // Room for 7 MB of the ≈ 10 MB image: more than the first write (at most 4 MiB plus a
      // read task), so the disk fills after a checkpoint.
      fs.writeFileSync(filler, Buffer.alloc(Math.max(0, free() - (7 << 20))));
      const out = path.join(mnt, 'full.dump');
      const err = await backup({ source: src, output: out, stateDir: state, threads: 1, checkpointIntervalMs: 0 }).then(() => null, (e: SnapdumpError) => e);
      assert.equal(err?.code, 'ERR_OUTPUT', String(err));
      assert.match(err!.message, /restartable from its checkpoint/);
      const id = err!.details.context as string;
      assert.equal((await readContext(state, id)).status, 'failed');
      fs.rmSync(filler);
      const summary = await restartBackup({ id, stateDir: state, threads: 1 });
      assert.equal(summary.exitStatus, 0);
      const dest = path.join(work, 'full-restored');
      await restoredBySnapdump(out, dest);
      assertSameTree(src, dest);
    } finally {
      run('umount', [mnt]);
    }
  });
});
