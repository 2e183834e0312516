/**
 * Incrementals of btrfs snapshots through the inode map: each read-only snapshot of a subvolume
 * has the subvolume's inode numbers but its own st_dev, so the map keys by st_ino alone within
 * one dump name. Level 0 of one snapshot and level 1 of a later one, under one --name, restore
 * by snapdump and by the real restore -r to the later snapshot. A real btrfs on a loop device,
 * always unmounted and detached.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backup } from '../../src/backup.js';
import { restore } from '../../src/restore/index.js';
import { STATE_FILE } from '../../src/restore/chain.js';
import { listImage } from '../../src/read/list.js';
import { compareTrees, haveProgram, isRoot, removeTree, run, snapshotTree, tempDir } from '../helpers/tree.js';

const usable = isRoot && haveProgram('mkfs.btrfs') && haveProgram('btrfs') && haveProgram('losetup');

describe('btrfs snapshots as the source of a chain', { skip: !usable && 'needs root, btrfs-progs and losetup' }, () => {
  let work: string;
  let mnt: string;
  let dev = '';
  before(() => {
    work = tempDir('btrfs');
    const img = path.join(work, 'fs.img');
    fs.writeFileSync(img, '');
    fs.truncateSync(img, 200 << 20);
    assert.equal(run('mkfs.btrfs', ['-q', img]).status, 0);
    const l = run('losetup', ['-f', '--show', img]);
    assert.equal(l.status, 0, l.stderr);
    dev = l.stdout.toString().trim();
    mnt = path.join(work, 'mnt');
    fs.mkdirSync(mnt);
    const m = run('mount', [dev, mnt]);
    assert.equal(m.status, 0, m.stderr);
  });
  after(() => {
    try {
      if (mnt) run('umount', [mnt]);
    } finally {
      if (dev) run('losetup', ['-d', dev]);
      removeTree(work);
    }
  });

  it('level 0 of one snapshot, level 1 of the next, one --name: numbers kept, both restores exact', async () => {
    const vol = path.join(mnt, 'vol');
    assert.equal(run('btrfs', ['subvolume', 'create', vol]).status, 0);
    const p = (rel: string) => path.join(vol, rel);
    fs.mkdirSync(p('dir'));
    for (const f of ['keep', 'move', 'delete', 'change']) fs.writeFileSync(p(f), `${f}\n`);
    fs.linkSync(p('keep'), p('dir/keep-link'));
    fs.writeFileSync(p('untouched'), 'untouched\n');
    // Dates have one-second resolution and an object changed in the base's second is dumped
    // again (ctime >= base date, as Linux dump): start the chain in a later second, so what the
    // level 1 holds does not depend on where a second boundary falls.
    await new Promise((r) => setTimeout(r, 1100));
    const snap = (n: string) => {
      const s = path.join(mnt, n);
      assert.equal(run('btrfs', ['subvolume', 'snapshot', '-r', vol, s]).status, 0);
      return s;
    };
    const state = path.join(work, 'state');
    const s1 = snap('snap1');
    const l0 = path.join(work, 'l0.dump');
    assert.equal((await backup({ source: s1, output: l0, level: 0, stateDir: state, name: 'vol', inodeMap: true })).exitStatus, 0);
    await new Promise((r) => setTimeout(r, 1100));
    fs.renameSync(p('move'), p('dir/moved'));
    fs.rmSync(p('delete'));
    fs.appendFileSync(p('change'), 'more\n');
    fs.writeFileSync(p('new'), 'new\n');
    fs.chmodSync(p('keep'), 0o600); // a changed object with two names: both go on tape
    const s2 = snap('snap2');
    assert.notEqual(fs.statSync(s1).dev, fs.statSync(s2).dev, 'each snapshot has its own st_dev');
    assert.equal(fs.statSync(path.join(s1, 'keep')).ino, fs.statSync(path.join(s2, 'keep')).ino, 'and the same inode numbers');
    const l1 = path.join(work, 'l1.dump');
    const inc = await backup({ source: s2, output: l1, level: 1, stateDir: state, name: 'vol', inodeMap: true });
    assert.equal(inc.exitStatus, 0);
    assert.equal(inc.files, 4, 'only the changes: moved, change, new and keep (two names)');
    const numbers = async (img: string) => new Map((await listImage({ files: [img] })).entries.map((e) => [e.path, e.ino]));
    const [n0, n1] = [await numbers(l0), await numbers(l1)];
    assert.equal(n1.get('./dir/moved'), n0.get('./move'), 'a moved file keeps its number across snapshots');
    assert.equal(n1.get('./dir/keep-link'), n0.get('./keep'), 'a changed file keeps its number under its second name');
    assert.equal(n1.get('./keep'), n0.get('./keep'));
    assert.equal(n1.has('./untouched'), false, 'an object unchanged since the base is not in the level 1');

    const ours = path.join(work, 'ours');
    for (const img of [l0, l1]) assert.equal((await restore({ files: [img], dest: ours })).exitStatus, 0);
    assert.deepEqual(compareTrees(snapshotTree(s2), snapshotTree(ours, { ignore: (rel) => rel === STATE_FILE }), { mtimeResolutionNs: 1000n }), []);
    if (haveProgram('restore')) {
      const theirs = path.join(work, 'theirs');
      fs.mkdirSync(theirs);
      for (const img of [l0, l1]) {
        const r = run('restore', ['-r', '-y', '-T', work, '-f', img], { cwd: theirs });
        assert.equal(r.status, 0, r.stderr);
      }
      fs.rmSync(path.join(theirs, 'restoresymtable'));
      assert.deepEqual(compareTrees(snapshotTree(s2), snapshotTree(theirs), { mtimeResolutionNs: 1000n, directoryTimes: false }), []);
    }
  });
});
