/**
 * Two backups at once in one engine process (the library API) hold snapshot_for_backup.0 and
 * .1 of the same subvolume; each image holds its own snapshot's tree, and both snapshots are
 * gone afterwards. Its own test file, so this process has made no snapshot before.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backup, type SnapshotInfo } from '../../src/backup.js';
import { restore } from '../../src/restore/index.js';
import { STATE_FILE } from '../../src/restore/chain.js';
import { SNAPSHOT_DIR, listRecords, recordStatus } from '../../src/snapshot/index.js';
import { snapdump } from '../helpers/cli.js';
import { canBtrfs, createSubvolume, listSubvolumes, mountBtrfs, type LoopBtrfs } from '../helpers/btrfs.js';
import { compareTrees, removeTree, snapshotTree, tempDir } from '../helpers/tree.js';

const notOurs = (rel: string) => rel === SNAPSHOT_DIR || rel.startsWith(`${SNAPSHOT_DIR}/`) || rel === STATE_FILE;
const tree = (root: string) => snapshotTree(root, { ignore: notOurs });

describe('two backups at once in one process', { skip: !canBtrfs && 'needs root, loop devices and btrfs-progs' }, () => {
  let fsx: LoopBtrfs;
  let work: string;
  let vol: string;
  before(() => {
    work = tempDir('snapconc');
    fsx = mountBtrfs();
    vol = path.join(fsx.mnt, 'vol');
    createSubvolume(vol);
    fs.mkdirSync(path.join(vol, 'd'));
    for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(vol, 'd', `f${i}`), `file ${i}\n`.repeat(i + 1));
  });
  after(() => {
    try { fsx?.cleanup(); } finally { removeTree(work); }
  });

  it('hold snapshot_for_backup.0 and .1, each image its own snapshot, both deleted', async () => {
    const state = path.join(work, 'state');
    const seen: SnapshotInfo[] = [];
    const trees: Array<ReturnType<typeof tree>> = [];
    let bothReady!: () => void;
    const barrier = new Promise<void>((r) => { bothReady = r; });
    let checked!: () => void;
    const gate = new Promise<void>((r) => { checked = r; });
    const start = (n: string, hook: (info: SnapshotInfo) => Promise<void>) => backup({ source: vol, output: path.join(work, `${n}.dump`), stateDir: state, threads: 2, onSnapshotReady: hook });
    const running: Array<ReturnType<typeof backup>> = [];
    const record = (info: SnapshotInfo) => { seen.push(info); trees.push(tree(info.readPath)); };
    // The first backup, holding its snapshot, changes the live tree and starts the second; both
    // wait, holding their snapshots, until the checks below are done.
    running.push(start('a', async (info) => {
      record(info);
      fs.writeFileSync(path.join(vol, 'after-first.txt'), 'x\n');
      running.push(start('b', async (info2) => { record(info2); bothReady(); await gate; }));
      await gate;
    }));
    await barrier;
    try {
      // Both held at once: two live records, both snapshots present.
      assert.deepEqual(seen.map((s) => s.name).sort(), ['snapshot_for_backup.0', 'snapshot_for_backup.1']);
      for (const s of seen) assert.ok(fs.existsSync(s.path!));
      assert.deepEqual(listRecords(state).map((r) => r.record && recordStatus(r.record)), ['live', 'live']);
      const listed = snapdump(['snapshots', '--state', state, '--json']).events();
      assert.deepEqual(listed.map((e) => [e.name, e.status]).sort(), [['snapshot_for_backup.0', 'live'], ['snapshot_for_backup.1', 'live']]);
    } finally {
      checked(); // a failed check must not leave the backups waiting
    }
    const summaries = await Promise.all([running[0]!, running[1]!]);
    for (const s of summaries) {
      assert.equal(s.exitStatus, 0, JSON.stringify(s.skipped));
      assert.deepEqual(s.warnings.map((w) => w.code), [], 'the other backup\'s snapshot is not dumped (no mount point)');
    }
    assert.deepEqual(listSubvolumes(fsx.mnt), ['vol']);
    assert.deepEqual(listRecords(state), []);
    assert.deepEqual(fs.readdirSync(path.join(vol, SNAPSHOT_DIR)), []);
    for (const [i, s] of summaries.entries()) {
      const j = seen.findIndex((x) => x.name === s.snapshot.name);
      const dest = path.join(work, `restored-${i}`);
      const r = await restore({ files: [s.output], dest });
      assert.equal(r.exitStatus, 0);
      assert.deepEqual(compareTrees(trees[j]!, tree(dest), { mtimeResolutionNs: 1000n }), []);
    }
    assert.notDeepEqual(compareTrees(trees[0]!, trees[1]!), [], 'the two snapshots were taken at different points');
  });
});
