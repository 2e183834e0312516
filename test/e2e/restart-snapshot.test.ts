/**
 * Restartable backups from btrfs snapshots (real btrfs on a loop device): the snapshot an
 * interrupted backup read stays (locked: not deleted, not pruned) while its context does; the
 * restart reads it, so the finished image is the tree as it was when the backup started, however
 * the live tree changed meanwhile; the snapshot goes when the restart completes or the context
 * is deleted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backup, type BackupEvent, type SnapshotInfo } from '../../src/backup.js';
import { restartBackup } from '../../src/restart.js';
import { readContext } from '../../src/context/context-store.js';
import { restore } from '../../src/restore/index.js';
import { STATE_FILE } from '../../src/restore/chain.js';
import { listRecords, pruneSnapshots, SNAPSHOT_DIR } from '../../src/snapshot/index.js';
import type { SnapdumpError } from '../../src/errors.js';
import { snapdump } from '../helpers/cli.js';
import { canBtrfs, createSubvolume, listSubvolumes, mountBtrfs, type LoopBtrfs } from '../helpers/btrfs.js';
import { compareTrees, haveProgram, pseudoRandom, removeTree, run, snapshotTree, tempDir } from '../helpers/tree.js';

const notOurs = (rel: string) => rel === SNAPSHOT_DIR || rel.startsWith(`${SNAPSHOT_DIR}/`) || rel === STATE_FILE || rel === 'restoresymtable';

function populate(root: string): void {
  for (let d = 0; d < 6; d++) {
    fs.mkdirSync(path.join(root, `d${d}`));
    for (let f = 0; f < 30; f++) fs.writeFileSync(path.join(root, `d${d}`, `f${f}`), pseudoRandom(20_000 + f * 1500, d * 100 + f));
  }
  fs.writeFileSync(path.join(root, 'big'), pseudoRandom(5 << 20, 99));
  fs.symlinkSync('d0/f0', path.join(root, 'link'));
}

describe('restarting backups taken from btrfs snapshots', { skip: !canBtrfs && 'needs root, loop devices and btrfs-progs' }, () => {
  let fsx: LoopBtrfs;
  let work: string;
  let vol: string;
  before(() => {
    work = tempDir('restart-snap');
    fsx = mountBtrfs();
    vol = path.join(fsx.mnt, 'vol');
    createSubvolume(vol);
    populate(vol);
  });
  after(() => {
    try { fsx?.cleanup(); } finally { removeTree(work); }
  });

  async function interrupted(state: string, out: string): Promise<{ id: string; snap: SnapshotInfo; before: ReturnType<typeof snapshotTree> }> {
    const controller = new AbortController();
    let snap: SnapshotInfo | null = null;
    let before = new Map() as ReturnType<typeof snapshotTree>;
    const onEvent = (e: BackupEvent) => { if (e.type === 'checkpoint') controller.abort(); };
    const err = await backup({
      source: vol, output: out, stateDir: state, threads: 1, checkpointIntervalMs: 0, signal: controller.signal, onEvent,
      onSnapshotReady: (info) => { snap = info; before = snapshotTree(vol, { ignore: notOurs }); },
    }).then(() => null, (e: SnapdumpError) => e);
    assert.equal(err?.code, 'ERR_ABORTED', String(err));
    assert.match(err!.message, /restartable/);
    return { id: err!.details.context as string, snap: snap!, before };
  }

  it('keeps the snapshot while the context lives, restarts from it, then deletes it', async () => {
    const state = path.join(work, 'state1');
    const out = path.join(work, 'a.dump');
    const { id, snap, before } = await interrupted(state, out);
    assert.equal(snap.provider, 'btrfs');
    const ctx = await readContext(state, id);
    assert.equal(ctx.snapshot?.name, snap.name);
    assert.equal(ctx.snapshot?.autoCreated, true);
    assert.equal(ctx.walkRoot, snap.readPath);
    assert.ok(fs.existsSync(snap.path!), 'the snapshot is kept for the restart');
    // Locked: neither a prune nor another backup removes it.
    await pruneSnapshots(state);
    assert.ok(fs.existsSync(snap.path!), 'prune leaves a kept snapshot alone');
    const show = snapdump(['contexts', 'show', id, '--state', state]).stdout.toString();
    assert.match(show, /Snapshot Auto-created\s+true/);
    // The live tree changes before the restart; the image must not see it.
    fs.rmSync(path.join(vol, 'd5'), { recursive: true });
    fs.writeFileSync(path.join(vol, 'big'), 'now small');
    fs.writeFileSync(path.join(vol, 'new-file'), 'new');
    const summary = await restartBackup({ id, stateDir: state, threads: 1 });
    assert.equal(summary.exitStatus, 0, JSON.stringify(summary.skipped));
    assert.deepEqual(summary.warnings.filter((w) => w.code === 'LIVE_RESTART'), [], 'no live-tree warning when a snapshot is read');
    assert.equal(fs.existsSync(snap.path!), false, 'the snapshot is deleted once the restart completes');
    assert.deepEqual(listSubvolumes(fsx.mnt), ['vol']);
    assert.deepEqual(listRecords(state), []);
    const dest = path.join(work, 'a-restored');
    fs.mkdirSync(dest);
    const r = await restore({ files: [out], dest, force: true });
    assert.equal(r.exitStatus, 0);
    assert.deepEqual(compareTrees(before, snapshotTree(dest, { ignore: notOurs }), { mtimeResolutionNs: 1000n }), []);
    if (haveProgram('restore')) {
      const linux = path.join(work, 'a-linux');
      fs.mkdirSync(linux);
      const lr = run('restore', ['-r', '-y', '-f', out], { cwd: linux });
      assert.equal(lr.status, 0, lr.stderr);
      assert.deepEqual(compareTrees(before, snapshotTree(linux, { ignore: notOurs }), { mtimeResolutionNs: 1000n }), []);
    }
  });

  it('stopped before the file phase: not restartable, and the snapshot is deleted at once', async () => {
    const state = path.join(work, 'state0');
    for (const phase of ['traverse', 'directories']) {
      const controller = new AbortController();
      let snap: SnapshotInfo | null = null;
      const err = await backup({
        source: vol, output: path.join(work, `early-${phase}.dump`), stateDir: state, signal: controller.signal,
        onSnapshotReady: (info) => { snap = info; },
        onEvent: (e) => { if (e.type === 'phase' && e.phase === phase) controller.abort(); },
      }).then(() => null, (e: SnapdumpError) => e);
      assert.equal(err?.code, 'ERR_ABORTED');
      assert.match(err!.message, /not restartable/);
      assert.ok(snap);
      assert.equal(fs.existsSync((snap as SnapshotInfo).path!), false);
      assert.deepEqual(listRecords(state), []);
      assert.deepEqual(snapdump(['contexts', '--state', state, '--json']).events(), []);
    }
  });

  it('a restart whose snapshot is gone is refused; deleting a context deletes its snapshot', async () => {
    const state = path.join(work, 'state2');
    const first = await interrupted(state, path.join(work, 'b.dump'));
    run('btrfs', ['subvolume', 'delete', first.snap.path!]);
    await assert.rejects(restartBackup({ id: first.id, stateDir: state }), (e: SnapdumpError) => e.code === 'ERR_NOT_RESTARTABLE' && /is gone/.test(e.message) && e.details.reason === 'snapshot-gone');
    const second = await interrupted(state, path.join(work, 'c.dump'));
    assert.ok(fs.existsSync(second.snap.path!));
    const del = snapdump(['contexts', 'delete', second.id, '--state', state]);
    assert.equal(del.status, 0, del.stderr);
    assert.equal(fs.existsSync(second.snap.path!), false);
    assert.equal(fs.existsSync(path.join(work, `.c.dump.partial-${process.pid}`)), false);
    const d1 = snapdump(['contexts', 'delete', first.id, '--state', state]);
    assert.equal(d1.status, 0, d1.stderr);
    assert.deepEqual(snapdump(['contexts', '--state', state, '--json']).events(), []);
  });
});
