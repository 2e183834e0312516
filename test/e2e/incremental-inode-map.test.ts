/**
 * Incrementals through the persistent inode map: forced on an ordinary directory (--inode-map)
 * and used by itself on a source whose inode numbers cannot serve (a tmpfs: its root is 1 and
 * its first file 2, the dump root's number). Chains 0,1,2 restored image after image by
 * snapdump and by the real restore -r, compared entry by entry with the source.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backup } from '../../src/backup.js';
import { restore } from '../../src/restore/index.js';
import { STATE_FILE } from '../../src/restore/chain.js';
import { listImage } from '../../src/read/list.js';
import { inodeMapExists } from '../../src/state/inode-map.js';
import { snapdump } from '../helpers/cli.js';
import { compareTrees, haveProgram, isRoot, removeTree, run, snapshotTree, tempDir } from '../helpers/tree.js';

const nextSecond = () => new Promise((r) => setTimeout(r, 1100));
const canRestoreR = isRoot && haveProgram('restore');

/** Dump inode number of every name an image lists. */
async function numbersOf(image: string): Promise<Map<string, number>> {
  const l = await listImage({ files: [image] });
  return new Map(l.entries.map((e) => [e.path, e.ino]));
}

/** Every kind of change, one step per incremental. */
function changes(p: (rel: string) => string): Array<() => void> {
  return [
    () => {
      fs.mkdirSync(p('dir/sub'), { recursive: true });
      fs.mkdirSync(p('old'));
      for (const f of ['keep', 'change', 'rename', 'delete', 'dir/move', 'old/in', 'becomes-dir']) fs.writeFileSync(p(f), `${f}\n`);
      fs.linkSync(p('keep'), p('dir/keep-link'));
      fs.symlinkSync('keep', p('sym'));
    },
    () => {
      fs.appendFileSync(p('change'), 'more\n');
      fs.renameSync(p('rename'), p('renamed'));
      fs.rmSync(p('delete'));
      fs.renameSync(p('dir/move'), p('dir/sub/moved'));
      fs.rmSync(p('becomes-dir'));
      fs.mkdirSync(p('becomes-dir'));
      fs.writeFileSync(p('becomes-dir/inside'), 'inside\n');
      fs.linkSync(p('change'), p('dir/change-link'));
      fs.chmodSync(p('keep'), 0o600);
    },
    () => {
      fs.rmSync(p('old'), { recursive: true });
      fs.rmSync(p('dir/keep-link'));
      fs.rmSync(p('renamed'));
      fs.writeFileSync(p('renamed'), 'another file under the old name\n');
      fs.rmSync(p('becomes-dir'), { recursive: true });
      fs.writeFileSync(p('becomes-dir'), 'a file again\n');
      fs.renameSync(p('sym'), p('dir/sym-moved'));
      // More new files than objects removed here: some have st_ino the file system never gave
      // before, so they are new to the map and take the numbers freed by the level 1.
      for (let i = 0; i < 8; i++) fs.writeFileSync(p(`new-${i}`), `new ${i}\n`);
    },
  ];
}

/**
 * Runs the chain 0,1,2 on `src`, checking after every image that the snapdump restore of the
 * chain so far and (as root) restore -r reproduce the source. Returns the images and the
 * st_ino of every path at the time of each.
 */
async function chain012(work: string, src: string, tag: string, inodeMap: boolean): Promise<{ images: string[]; inos: Array<Map<string, bigint>> }> {
  const state = path.join(work, `${tag}-state`);
  const ours = path.join(work, `${tag}-ours`);
  const theirs = path.join(work, `${tag}-restore-r`);
  fs.mkdirSync(theirs);
  const images: string[] = [];
  const inos: Array<Map<string, bigint>> = [];
  const steps = changes((rel) => path.join(src, rel));
  for (let level = 0; level < 3; level++) {
    await nextSecond();
    steps[level]!();
    const img = path.join(work, `${tag}-L${level}.dump`);
    const s = await backup({ source: src, output: img, level, stateDir: state, name: tag, inodeMap });
    assert.equal(s.exitStatus, 0, JSON.stringify(s.skipped));
    assert.equal(s.base?.level ?? null, level === 0 ? null : level - 1);
    assert.ok(inodeMapExists(state, tag), 'the map is kept in the state directory');
    images.push(img);
    inos.push(new Map([...snapshotTree(src)].map(([rel, e]) => [`./${rel}`, e.ino])));
    const r = await restore({ files: [img], dest: ours });
    assert.equal(r.exitStatus, 0, JSON.stringify([...r.skipped, ...r.warnings]));
    assert.deepEqual(compareTrees(snapshotTree(src), snapshotTree(ours, { ignore: (rel) => rel === STATE_FILE }), { mtimeResolutionNs: 1000n }), [], `snapdump restore after level ${level}`);
    if (canRestoreR) {
      const rr = run('restore', ['-r', '-y', '-T', work, '-f', img], { cwd: theirs });
      assert.equal(rr.status, 0, rr.stderr);
      const got = snapshotTree(theirs, { ignore: (rel) => rel === 'restoresymtable' });
      assert.deepEqual(compareTrees(snapshotTree(src), got, { mtimeResolutionNs: 1000n, directoryTimes: false }), [], `restore -r after level ${level}`);
    }
  }
  return { images, inos };
}

describe('incrementals through the persistent inode map', () => {
  let work: string;
  before(() => { work = tempDir('inomap'); });
  after(() => removeTree(work));

  it('--inode-map: numbers from the map, stable across the chain, a freed number not given to another object by the backup that frees it', async () => {
    const src = path.join(work, 'forced');
    fs.mkdirSync(src);
    const { images, inos } = await chain012(work, src, 'forced', true);
    const [n0, n1, n2] = await Promise.all(images.map(numbersOf));
    // Keyed by st_ino: in every image a number is one object (st_ino) and an object one number,
    // and an st_ino keeps its number across the chain.
    const numberOfIno = new Map<bigint, number>();
    [n0!, n1!, n2!].forEach((numbers, level) => {
      const inoOfNumber = new Map<number, bigint>();
      for (const [p, n] of numbers) {
        if (p === '.') continue;
        const ino = inos[level]!.get(p)!;
        assert.equal(inoOfNumber.get(n) ?? ino, ino, `level ${level}: number ${n} is one object`);
        inoOfNumber.set(n, ino);
        assert.equal(numberOfIno.get(ino) ?? n, n, `level ${level}: ${p} keeps its number`);
        numberOfIno.set(ino, n);
      }
    });
    // Dense from 3 in the level 0, not the source's st_ino.
    const level0 = [...new Set(n0!.values())].filter((n) => n !== 2).sort((a, b) => a - b);
    assert.deepEqual(level0, level0.map((_n, i) => 3 + i));
    assert.notEqual(n0!.get('./keep'), Number(fs.statSync(path.join(src, 'keep')).ino));
    // The same objects keep their numbers (a renamed file, a moved one, a hard link).
    assert.equal(n1!.get('./renamed'), n0!.get('./rename'));
    assert.equal(n1!.get('./dir/sub/moved'), n0!.get('./dir/move'));
    assert.equal(n1!.get('./dir/change-link'), n0!.get('./change'));
    assert.equal(n2!.get('./dir/sym-moved'), n0!.get('./sym'));
    // 'delete' was freed by the level 1: no other object got its number there (the file system
    // itself may have given its st_ino to a new file, which the map then takes for the same).
    const freed = n0!.get('./delete')!;
    const deletedIno = inos[0]!.get('./delete')!;
    for (const [p, n] of n1!) if (n === freed) assert.equal(inos[1]!.get(p), deletedIno, `${p} took the number freed by this backup`);
  });

  it('the CLI takes --inode-map', async () => {
    const src = path.join(work, 'cli');
    const state = path.join(work, 'cli-state');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'f'), 'f');
    const r = snapdump(['backup', src, '-f', path.join(work, 'cli.dump'), '--state', state, '--name', 'cli', '--inode-map', '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(inodeMapExists(state, 'cli'));
    assert.equal((await numbersOf(path.join(work, 'cli.dump'))).get('./f'), 3);
  });

  it('a level 0 whose map cannot be kept is numbered in walk order and says so; an incremental then is refused', async () => {
    const src = path.join(work, 'nostate');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'f'), 'f');
    const notADir = path.join(work, 'state-is-a-file');
    fs.writeFileSync(notADir, 'x');
    const codes: string[] = [];
    const s = await backup({ source: src, output: path.join(work, 'nostate.dump'), stateDir: notADir, name: 'nostate', inodeMap: true, snapshot: 'off', onEvent: (e) => { if (e.type === 'warning') codes.push(e.code); } });
    // No state directory: no inode map, no history, no restartable context either.
    assert.deepEqual(codes.sort(), ['CONTEXT', 'HISTORY', 'INODE_MAP']);
    assert.equal(s.exitStatus, 1, 'not recorded in the history');
    assert.equal((await numbersOf(path.join(work, 'nostate.dump'))).get('./f'), 3);
    await assert.rejects(backup({ source: src, output: path.join(work, 'nostate1.dump'), level: 1, stateDir: notADir, name: 'nostate', baseDate: s.dumpDate, inodeMap: true }), { code: 'ERR_STATE' });
  });

  it('a tmpfs source (numbers 1, 2, ... that cannot serve) gets incrementals through a map by itself', { skip: !isRoot && 'needs root to mount a tmpfs' }, async () => {
    const src = path.join(work, 'tmpfs');
    fs.mkdirSync(src);
    const m = run('mount', ['-t', 'tmpfs', '-o', 'size=16m,inode64', 'tmpfs', src]);
    assert.equal(m.status, 0, m.stderr);
    try {
      await chain012(work, src, 'tmpfs', false);
    } finally {
      const u = run('umount', [src]);
      assert.equal(u.status, 0, u.stderr);
    }
  });

  it('a source whose numbers stop fitting after identity-numbered images continues them through a seeded map', async () => {
    // Identity at level 0; at level 1 the map is forced (as it would be by a new large number):
    // unchanged objects keep their st_ino, so the level 0 restored plus the level 1 is right.
    const src = path.join(work, 'seeded');
    const state = path.join(work, 'seeded-state');
    const dest = path.join(work, 'seeded-ours');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'a'), 'a');
    fs.writeFileSync(path.join(src, 'b'), 'b');
    const l0 = path.join(work, 'seeded-0.dump');
    await backup({ source: src, output: l0, level: 0, stateDir: state, name: 'seeded' });
    assert.equal(inodeMapExists(state, 'seeded'), false, 'identity numbering needs no map');
    await nextSecond();
    fs.renameSync(path.join(src, 'a'), path.join(src, 'a2'));
    fs.writeFileSync(path.join(src, 'c'), 'c');
    const l1 = path.join(work, 'seeded-1.dump');
    await backup({ source: src, output: l1, level: 1, stateDir: state, name: 'seeded', inodeMap: true });
    assert.equal((await numbersOf(l1)).get('./a2'), Number(fs.statSync(path.join(src, 'a2')).ino));
    for (const img of [l0, l1]) assert.equal((await restore({ files: [img], dest })).exitStatus, 0);
    assert.deepEqual(compareTrees(snapshotTree(src), snapshotTree(dest, { ignore: (rel) => rel === STATE_FILE }), { mtimeResolutionNs: 1000n }), []);
  });
});
