/**
 * Backups from btrfs snapshots on a real btrfs file system (a loop device): the image holds the
 * snapshot's content while the live tree changes during the backup (checked with snapdump
 * restore and the real Linux `restore -r`), the snapshot is gone afterwards (also after a
 * failure), incrementals from snapshots record the source's dump name, a subtree source, an
 * existing snapshot given with --snapshot, and snapshot failures before any output.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { backup, type SnapshotInfo } from '../../src/backup.js';
import { restore } from '../../src/restore/index.js';
import { STATE_FILE } from '../../src/restore/chain.js';
import { readDumpdates } from '../../src/state/dumpdates.js';
import { SNAPSHOT_DIR, listRecords, pruneSnapshots, recordStatus, releaseKeptSnapshot } from '../../src/snapshot/index.js';
import { BtrfsError, createReadOnlySnapshot, subvolumeInfo } from '../../src/snapshot/btrfs.js';
import { claimRecord, currentOwner, openRecordsDir, recordId, type SnapshotRecord } from '../../src/snapshot/records.js';
import { snapdump, snapdumpBin } from '../helpers/cli.js';
import { canBtrfs, createSubvolume, btrfs, listSubvolumes, mountBtrfs, type LoopBtrfs } from '../helpers/btrfs.js';
import { compareTrees, haveProgram, pseudoRandom, removeTree, run, snapshotTree, tempDir } from '../helpers/tree.js';

const notOurs = (rel: string) => rel === SNAPSHOT_DIR || rel.startsWith(`${SNAPSHOT_DIR}/`) || rel === STATE_FILE;
const tree = (root: string) => snapshotTree(root, { ignore: notOurs });
const nextSecond = () => new Promise((r) => setTimeout(r, 1100));

function populate(root: string): void {
  fs.mkdirSync(path.join(root, 'sub/deep'), { recursive: true });
  fs.writeFileSync(path.join(root, 'a.txt'), 'alpha\n');
  fs.writeFileSync(path.join(root, 'big.bin'), pseudoRandom(3 << 20, 7));
  fs.writeFileSync(path.join(root, 'delete-me.txt'), 'gone soon\n');
  fs.writeFileSync(path.join(root, 'rename-me.txt'), 'renamed soon\n');
  fs.writeFileSync(path.join(root, 'sub/deep/b.txt'), 'beta\n');
  fs.linkSync(path.join(root, 'a.txt'), path.join(root, 'sub/a-link'));
  fs.symlinkSync('../a.txt', path.join(root, 'sub/a-sym'));
}

/** Changes of every kind to the live tree while a backup reads its snapshot. */
function changeLive(root: string): void {
  fs.appendFileSync(path.join(root, 'a.txt'), 'more\n');
  fs.writeFileSync(path.join(root, 'big.bin'), pseudoRandom(3 << 20, 8));
  fs.writeFileSync(path.join(root, 'new.txt'), 'new\n');
  fs.unlinkSync(path.join(root, 'delete-me.txt'));
  fs.renameSync(path.join(root, 'rename-me.txt'), path.join(root, 'sub/renamed.txt'));
  fs.rmSync(path.join(root, 'sub/deep'), { recursive: true });
}

function restoreReal(image: string, dest: string, tmp: string): void {
  const r = run('restore', ['-r', '-y', '-T', tmp, '-f', image], { cwd: dest });
  assert.equal(r.status, 0, r.stderr);
}

describe('backups from btrfs snapshots', { skip: !canBtrfs && 'needs root, loop devices and btrfs-progs' }, () => {
  let fsx: LoopBtrfs;
  let work: string;
  let state: string;
  let vol: string;
  const canRestore = haveProgram('restore');

  before(() => {
    work = tempDir('snapbackup');
    state = path.join(work, 'state');
    fsx = mountBtrfs();
    vol = path.join(fsx.mnt, 'vol');
    createSubvolume(vol);
    populate(vol);
  });
  after(() => {
    try { fsx?.cleanup(); } finally { removeTree(work); }
  });

  it('holds the snapshot\'s content while the live tree changes, and deletes the snapshot', async () => {
    const image = path.join(work, 'full.dump');
    let seen: SnapshotInfo | null = null;
    let inSnapshot = new Map() as ReturnType<typeof tree>;
    let liveAtSnapshot = new Map() as ReturnType<typeof tree>;
    const events: string[] = [];
    const s = await backup({
      source: vol, output: image, stateDir: state, threads: 2,
      onEvent: (e) => { if (e.type === 'snapshot') events.push(e.action); },
      onSnapshotReady: (info) => {
        seen = info;
        assert.equal(fs.existsSync(image), false, 'the snapshot comes before the output');
        assert.equal(listRecords(state).length, 1, 'the snapshot is recorded');
        inSnapshot = tree(info.readPath);
        liveAtSnapshot = tree(vol);
        changeLive(vol);
      },
    });
    assert.ok(seen);
    const info: SnapshotInfo = seen;
    assert.equal(info.provider, 'btrfs');
    assert.match(info.name!, /^snapshot_for_backup\.\d+$/);
    assert.equal(info.path, path.join(vol, SNAPSHOT_DIR, info.name!));
    assert.equal(info.volume, vol);
    assert.deepEqual(events, ['using', 'deleted']);
    assert.deepEqual(s.snapshot, info);
    assert.deepEqual(compareTrees(liveAtSnapshot, inSnapshot), [], 'the snapshot is the tree as it was');
    assert.notDeepEqual(compareTrees(inSnapshot, tree(vol)), [], 'the live tree did change');
    assert.equal(s.exitStatus, 0, JSON.stringify(s.skipped));
    assert.deepEqual(s.warnings.filter((w) => w.code !== 'FIELD_RANGE'), []);
    assert.equal(s.name, vol, 'the dump name is the source, not the snapshot');
    assert.equal(s.filesys, `${fsx.mnt} (dir /vol)`);
    // Gone: the snapshot, its record; only the subvolume itself remains.
    assert.equal(fs.existsSync(info.path!), false);
    assert.deepEqual(listSubvolumes(fsx.mnt), ['vol']);
    assert.deepEqual(listRecords(state), []);

    const mine = path.join(work, 'restored-snapdump');
    const r = await restore({ files: [image], dest: mine });
    assert.equal(r.exitStatus, 0, JSON.stringify([...r.skipped, ...r.warnings]));
    assert.deepEqual(compareTrees(inSnapshot, tree(mine), { mtimeResolutionNs: 1000n }), []);
    assert.equal(fs.existsSync(path.join(mine, SNAPSHOT_DIR)), false, 'the snapshot directory is not dumped');
    if (canRestore) {
      const real = path.join(work, 'restored-real');
      fs.mkdirSync(real);
      restoreReal(image, real, work);
      fs.rmSync(path.join(real, 'restoresymtable'));
      assert.deepEqual(compareTrees(inSnapshot, tree(real), { mtimeResolutionNs: 1000n }), []);
    }
  });

  it('a file changed while the backup reads: CHANGED (exit 1) from the live tree, nothing from a snapshot', async () => {
    const victim = path.join(vol, 'victim.txt');
    fs.writeFileSync(victim, 'before\n');
    // The walk is done and no file has been read yet when the 'directories' phase starts.
    const change = (e: { type: string; phase?: string }) => { if (e.type === 'phase' && e.phase === 'directories') fs.appendFileSync(victim, 'after\n'); };
    const live = await backup({ source: vol, output: path.join(work, 'changed-live.dump'), stateDir: state, snapshot: 'off', onEvent: change });
    assert.equal(live.exitStatus, 1);
    assert.deepEqual(live.skipped.map((x) => [x.code, x.message, path.basename(x.path)]), [['CHANGED', 'file changed as we read it', 'victim.txt']]);
    assert.equal(live.snapshot.provider, 'none');
    const snap = await backup({ source: vol, output: path.join(work, 'changed-snap.dump'), stateDir: state, onEvent: change });
    assert.equal(snap.exitStatus, 0, JSON.stringify(snap.skipped));
    const dest = path.join(work, 'changed-restored');
    await restore({ files: [snap.output], dest });
    assert.equal(fs.readFileSync(path.join(dest, 'victim.txt'), 'utf8'), 'before\nafter\n', 'the snapshot was taken after the first change, before the second');
    fs.rmSync(victim);
  });

  it('incrementals from snapshots: the history names the source; restore -r applies the chain', async () => {
    const chainState = path.join(work, 'chain-state');
    const images: string[] = [];
    for (const [i, level] of [0, 1].entries()) {
      // Dates have one-second resolution and an object changed in the base's second is dumped
      // again (as Linux dump does): the earlier tests' changes must be a second older than the
      // level 0, and the level 1's changes a second newer.
      await nextSecond();
      if (i > 0) {
        fs.writeFileSync(path.join(vol, 'level1.txt'), 'only in level 1\n');
        fs.appendFileSync(path.join(vol, 'sub/renamed.txt'), 'changed\n');
        fs.unlinkSync(path.join(vol, 'new.txt'));
      }
      const img = path.join(work, `chain-${level}.dump`);
      const s = await backup({ source: vol, output: img, level, stateDir: chainState, threads: 2 });
      assert.equal(s.exitStatus, 0, JSON.stringify(s.skipped));
      assert.equal(s.snapshot.provider, 'btrfs');
      if (level === 1) {
        assert.equal(s.base?.level, 0);
        assert.equal(s.files, 2, 'only the two changed files are in the level 1');
      }
      images.push(img);
    }
    const history = await readDumpdates(chainState);
    assert.deepEqual(history.map((h) => [h.name, h.level]), [[vol, 0], [vol, 1]]);
    const mine = path.join(work, 'chain-snapdump');
    for (const img of images) {
      const r = await restore({ files: [img], dest: mine });
      assert.equal(r.exitStatus, 0, JSON.stringify([...r.skipped, ...r.warnings]));
    }
    assert.deepEqual(compareTrees(tree(vol), tree(mine), { mtimeResolutionNs: 1000n }), []);
    if (canRestore) {
      const real = path.join(work, 'chain-real');
      fs.mkdirSync(real);
      for (const img of images) restoreReal(img, real, work);
      fs.rmSync(path.join(real, 'restoresymtable'));
      assert.deepEqual(compareTrees(tree(vol), tree(real), { mtimeResolutionNs: 1000n }), []);
    }
    assert.deepEqual(listSubvolumes(fsx.mnt), ['vol']);
  });

  it('a subtree source: the volume is snapshotted, the subtree dumped, c_filesys names it', () => {
    const image = path.join(work, 'subtree.dump');
    const r = snapdump(['backup', path.join(vol, 'sub'), '-f', image, '--state', state, '--json', '--require-snapshot']);
    assert.equal(r.status, 0, r.stderr);
    const summary = r.events().find((e) => e.type === 'summary')!;
    const snap = summary.snapshot as SnapshotInfo;
    assert.equal(snap.volume, vol);
    assert.equal(snap.readPath, path.join(snap.path!, 'sub'));
    assert.equal(summary.filesys, `${fsx.mnt} (dir /vol/sub)`);
    assert.equal(summary.name, path.join(vol, 'sub'));
    const list = snapdump(['list', '-f', image, '--json']);
    const label = list.events().find((e) => e.kind === 'label')!;
    assert.equal(label.filesys, `${fsx.mnt} (dir /vol/sub)`);
    const paths = list.events().filter((e) => e.kind === 'entry').map((e) => e.path).sort();
    assert.deepEqual(paths, ['.', './a-link', './a-sym', './renamed.txt']);
    assert.deepEqual(listSubvolumes(fsx.mnt), ['vol']);
  });

  it('--snapshot PATH backs up an existing snapshot and leaves it; a writable one is warned about', async () => {
    const given = path.join(fsx.mnt, 'given');
    btrfs('subvolume', 'snapshot', '-r', vol, given);
    const frozen = tree(given);
    // A read-only subvolume is read as it is: no snapshot of it, no warning, even when required.
    const ro = snapdump(['backup', given, '-f', path.join(work, 'ro.dump'), '--state', state, '--json', '--require-snapshot']);
    assert.equal(ro.status, 0, ro.stderr);
    assert.deepEqual(ro.events().filter((e) => e.type === 'warning'), []);
    const roSnap = ro.events().find((e) => e.type === 'summary')!.snapshot as SnapshotInfo;
    assert.deepEqual([roSnap.provider, roSnap.consistent], ['none', true]);
    assert.deepEqual(listSubvolumes(fsx.mnt), ['given', 'vol']);
    fs.writeFileSync(path.join(vol, 'after-given.txt'), 'not in the image\n');
    const image = path.join(work, 'given.dump');
    const r = snapdump(['backup', vol, '--snapshot', given, '-f', image, '--state', state, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const events = r.events();
    assert.deepEqual(events.filter((e) => e.type === 'warning').map((e) => e.code), []);
    const summary = events.find((e) => e.type === 'summary')!;
    assert.equal((summary.snapshot as SnapshotInfo).provider, 'path');
    assert.equal(summary.name, vol);
    assert.ok(fs.existsSync(given), 'a given snapshot is not deleted');
    assert.deepEqual(listSubvolumes(fsx.mnt), ['given', 'vol'], 'no other snapshot was made');
    const dest = path.join(work, 'given-restored');
    const rr = await restore({ files: [image], dest });
    assert.equal(rr.exitStatus, 0);
    assert.deepEqual(compareTrees(frozen, tree(dest), { mtimeResolutionNs: 1000n }), []);

    const copy = path.join(work, 'writable-copy');
    fs.cpSync(given, copy, { recursive: true });
    const w = snapdump(['backup', vol, '--snapshot', copy, '-f', path.join(work, 'w.dump'), '--state', state, '--json']);
    assert.equal(w.status, 0, w.stderr);
    assert.deepEqual(w.events().filter((e) => e.type === 'warning').map((e) => e.code), ['SNAPSHOT_WRITABLE']);
    const missing = snapdump(['backup', vol, '--snapshot', path.join(work, 'nope'), '-f', path.join(work, 'm.dump'), '--state', state]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /error \[ERR_SNAPSHOT\]/);
    assert.equal(fs.existsSync(path.join(work, 'm.dump')), false);
    btrfs('subvolume', 'delete', given);
  });

  it('warnings about entries inside the snapshot name them by their SOURCE path', async () => {
    const outer = path.join(fsx.mnt, 'outer');
    createSubvolume(outer);
    createSubvolume(path.join(outer, 'nested'));
    fs.writeFileSync(path.join(outer, 'f'), 'x\n');
    const s = await backup({ source: outer, output: path.join(work, 'nested.dump'), stateDir: state });
    assert.equal(s.snapshot.provider, 'btrfs');
    assert.ok(s.warnings.length > 0, 'the nested subvolume is reported');
    for (const w of s.warnings) assert.ok(w.path.startsWith(outer + '/') && !w.path.includes(SNAPSHOT_DIR), JSON.stringify(w));
    btrfs('subvolume', 'delete', path.join(outer, 'nested'));
    btrfs('subvolume', 'delete', outer);
    assert.deepEqual(listSubvolumes(fsx.mnt), ['vol']);
  });

  it('a snapshot that cannot be made is a coded error before any output is written', () => {
    const other = path.join(fsx.mnt, 'other');
    createSubvolume(other);
    fs.writeFileSync(path.join(other, 'f'), 'x\n');
    // Our snapshot directory's name taken by a file: the snapshot cannot be made there.
    fs.writeFileSync(path.join(other, SNAPSHOT_DIR), 'in the way\n');
    const image = path.join(work, 'fails.dump');
    const r = snapdump(['backup', other, '-f', image, '--state', state, '--json']);
    assert.equal(r.status, 2);
    const err = JSON.parse(r.stderr.trim().split('\n').pop()!) as Record<string, unknown>;
    assert.equal(err.code, 'ERR_SNAPSHOT');
    assert.equal(err.reason, 'FAILED');
    assert.deepEqual(fs.readdirSync(work).filter((n) => n.includes('fails.dump')), [], 'no output file, not even a partial one');
    assert.deepEqual(listRecords(state), []);
    btrfs('subvolume', 'delete', other);
  });

  it('a snapshot kept by the keepSnapshot decision stays, is not pruned, and ends when released', async () => {
    const outcomes: Array<{ ok: boolean }> = [];
    const s = await backup({ source: vol, output: path.join(work, 'kept.dump'), stateDir: state, keepSnapshot: (_info, outcome) => { outcomes.push(outcome); return true; } });
    assert.deepEqual(outcomes, [{ ok: true }]);
    assert.ok(fs.existsSync(s.snapshot.path!));
    assert.deepEqual(listRecords(state).map((r) => r.record && recordStatus(r.record)), ['kept']);
    assert.deepEqual(await pruneSnapshots(state), []);
    assert.ok(fs.existsSync(s.snapshot.path!), 'a kept snapshot is not an orphan');
    assert.match(snapdump(['snapshots', '--state', state]).stdout.toString(), /^kept +\S+snapshot_for_backup\.\d+ /);
    const released = await releaseKeptSnapshot(state, s.snapshot.recordId!);
    assert.equal(released?.outcome, 'removed');
    assert.deepEqual(listSubvolumes(fsx.mnt), ['vol']);
    assert.deepEqual(listRecords(state), []);
  });

  it('no snapshot where the subvolume is not visible (a bind mount) or without permission: a warning, or ERR_SNAPSHOT when required', () => {
    const bound = path.join(work, 'bound');
    fs.mkdirSync(bound);
    assert.equal(run('mount', ['--bind', path.join(vol, 'sub'), bound]).status, 0);
    try {
      const warned = snapdump(['backup', bound, '-f', path.join(work, 'bound.dump'), '--state', state, '--json']);
      assert.equal(warned.status, 0, warned.stderr);
      const w = warned.events().filter((e) => e.type === 'warning');
      assert.deepEqual(w.map((e) => e.code), ['NO_SNAPSHOT']);
      assert.match(String(w[0]!.message), /not visible here/);
      const refused = snapdump(['backup', bound, '-f', path.join(work, 'bound2.dump'), '--state', state, '--json', '--require-snapshot']);
      assert.equal(refused.status, 2);
      const err = JSON.parse(refused.stderr.trim().split('\n').pop()!) as Record<string, unknown>;
      assert.deepEqual([err.code, err.reason], ['ERR_SNAPSHOT', 'NOT_SUBVOLUME']);
      assert.equal(fs.existsSync(path.join(work, 'bound2.dump')), false);
      // A read-only mount of a writable subvolume: it may change through the other mount.
      assert.equal(run('mount', ['--bind', vol, bound]).status, 0);
      assert.equal(run('mount', ['-o', 'remount,bind,ro', bound]).status, 0);
      const roMount = snapdump(['backup', bound, '-f', path.join(work, 'ro-mount.dump'), '--state', state, '--json', '--require-snapshot']);
      assert.equal(roMount.status, 2);
      const roErr = JSON.parse(roMount.stderr.trim().split('\n').pop()!) as Record<string, unknown>;
      assert.deepEqual([roErr.code, roErr.reason], ['ERR_SNAPSHOT', 'READ_ONLY']);
    } finally {
      while (run('umount', [bound]).status === 0) { /* both bind mounts */ }
    }

    // An unprivileged user may read the subvolume but not snapshot it.
    const nobody = 65534;
    const open = path.join(work, 'nobody');
    fs.mkdirSync(open, { mode: 0o777 });
    fs.chmodSync(open, 0o777);
    for (const d of [fsx.mnt, path.dirname(fsx.mnt)]) fs.chmodSync(d, 0o755); // temp dirs are made 0700
    fs.chmodSync(work, 0o755);
    const asNobody = (extra: string[]) => spawnSync(process.execPath, [snapdumpBin, 'backup', vol, '--state', path.join(open, 'state'), '--json', ...extra], { uid: nobody, gid: nobody, encoding: 'utf8' });
    const live = asNobody(['-f', path.join(open, 'live.dump')]);
    assert.equal(live.status, 0, live.stderr);
    const codes = live.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.type === 'warning').map((e) => e.code);
    assert.ok(codes.includes('NO_SNAPSHOT'), codes.join());
    const required = asNobody(['-f', path.join(open, 'required.dump'), '--require-snapshot']);
    assert.equal(required.status, 2);
    const err = JSON.parse(required.stderr.trim().split('\n').pop()!) as Record<string, unknown>;
    assert.deepEqual([err.code, err.reason], ['ERR_SNAPSHOT', 'PERMISSION']);
    assert.equal(fs.existsSync(path.join(open, 'required.dump')), false);
    assert.deepEqual(listSubvolumes(fsx.mnt), ['vol']);
  });

  it('prune deletes a snapshot its dead owner made but never confirmed, and only if it is a snapshot of the recorded subvolume', async () => {
    const pruneState = path.join(work, 'prune-state');
    await openRecordsDir(pruneState);
    const dead = { ...currentOwner(), pid: Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString()) };
    const volUuid = (await subvolumeInfo(vol)).uuid;
    const dir = path.join(vol, SNAPSHOT_DIR);
    fs.mkdirSync(dir, { recursive: true });
    const made = (name: string): SnapshotRecord => {
      const p = path.join(dir, name);
      return { version: 1, id: recordId(name, p), provider: 'btrfs', path: p, name, subvolume: vol, subvolumeUuid: volUuid, source: vol, owner: dead, created: new Date().toISOString(), state: 'claimed', uuid: null, keep: null };
    };
    // Killed between making the snapshot and recording its UUID: still recognised as ours.
    const ours = made('snapshot_for_backup.90');
    await createReadOnlySnapshot(vol, ours.path);
    // Something else under a recorded name: a snapshot of another subvolume.
    const stranger = path.join(fsx.mnt, 'stranger');
    createSubvolume(stranger);
    const theirs = made('snapshot_for_backup.91');
    await createReadOnlySnapshot(stranger, theirs.path);
    for (const r of [ours, theirs]) assert.ok(await claimRecord(pruneState, r));
    const results = await pruneSnapshots(pruneState);
    assert.deepEqual(results.map((r) => [path.basename(r.path), r.outcome]).sort(), [['snapshot_for_backup.90', 'removed'], ['snapshot_for_backup.91', 'not-ours']]);
    assert.equal(fs.existsSync(ours.path), false);
    assert.ok(fs.existsSync(theirs.path), 'not the recorded snapshot: left alone');
    assert.deepEqual(listRecords(pruneState), []);
    btrfs('subvolume', 'delete', theirs.path);
    btrfs('subvolume', 'delete', stranger);
    // btrfs itself refuses to snapshot a directory that is not a subvolume.
    await assert.rejects(createReadOnlySnapshot(path.join(vol, 'sub'), path.join(dir, 'never')), (e) => e instanceof BtrfsError && e.reason === 'NOT_SUBVOLUME');
    assert.deepEqual(listSubvolumes(fsx.mnt), ['vol']);
  });

  it('no space for the snapshot: ERR_SNAPSHOT with reason NO_SPACE, no output, no record', () => {
    // A full btrfs still makes snapshots (metadata space is reserved), so the failure is made by
    // a wrapper that answers `subvolume snapshot` as btrfs-progs does on ENOSPC and passes every
    // other command to the real btrfs.
    const real = run('sh', ['-c', 'command -v btrfs || echo /usr/bin/btrfs']).stdout.toString().trim();
    const bin = path.join(work, 'enospc-bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'btrfs'), `#!/bin/sh\nif [ "$1 $2" = "subvolume snapshot" ]; then echo "ERROR: cannot snapshot '$6': No space left on device" >&2; exit 1; fi\nexec ${real} "$@"\n`, { mode: 0o755 });
    const image = path.join(work, 'enospc.dump');
    const r = snapdump(['backup', vol, '-f', image, '--state', state, '--json'], { env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` } });
    assert.equal(r.status, 2, r.stderr);
    const err = JSON.parse(r.stderr.trim().split('\n').pop()!) as Record<string, unknown>;
    assert.deepEqual([err.code, err.reason], ['ERR_SNAPSHOT', 'NO_SPACE']);
    assert.match(String(err.message), /No space left on device/);
    assert.deepEqual(fs.readdirSync(work).filter((n) => n.includes('enospc.dump')), []);
    assert.deepEqual(listRecords(state), []);
    assert.deepEqual(listSubvolumes(fsx.mnt), ['vol']);
  });

  it('a backup that fails after the snapshot still deletes it', async () => {
    await assert.rejects(
      backup({ source: vol, output: path.join(work, 'no-such-dir', 'x.dump'), stateDir: state }),
      (e: { code?: string }) => e.code === 'ERR_OUTPUT',
    );
    assert.deepEqual(listSubvolumes(fsx.mnt), ['vol']);
    assert.deepEqual(listRecords(state), []);
    await assert.rejects(
      backup({ source: vol, output: path.join(work, 'hook.dump'), stateDir: state, onSnapshotReady: () => { throw new Error('hook failed'); } }),
      /hook failed/,
    );
    assert.deepEqual(listSubvolumes(fsx.mnt), ['vol']);
    assert.deepEqual(listRecords(state), []);
  });
});

describe('no snapshot possible', () => {
  let work: string;
  before(() => { work = tempDir('nosnap'); fs.mkdirSync(path.join(work, 'src')); fs.writeFileSync(path.join(work, 'src/f'), 'x\n'); });
  after(() => removeTree(work));

  it('warns (exit status 0) and reads the live tree; --require-snapshot makes it ERR_SNAPSHOT', () => {
    const src = path.join(work, 'src');
    const ok = snapdump(['backup', src, '-f', path.join(work, 'live.dump'), '--json']);
    assert.equal(ok.status, 0, ok.stderr);
    const warnings = ok.events().filter((e) => e.type === 'warning');
    assert.deepEqual(warnings.map((w) => w.code), ['NO_SNAPSHOT']);
    assert.equal((ok.events().find((e) => e.type === 'summary')!.snapshot as SnapshotInfo).provider, 'none');
    const image = path.join(work, 'required.dump');
    const r = snapdump(['backup', src, '-f', image, '--require-snapshot']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^snapdump: error \[ERR_SNAPSHOT\]: no snapshot of .* can be taken/);
    assert.deepEqual(fs.readdirSync(work).filter((n) => n.includes('required')), [], 'no output written');
    const quiet = snapdump(['backup', src, '-f', path.join(work, 'off.dump'), '--no-snapshot', '--json']);
    assert.equal(quiet.status, 0);
    assert.deepEqual(quiet.events().filter((e) => e.type === 'warning'), [], '--no-snapshot: no warning');
  });
});
