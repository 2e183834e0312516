/**
 * Our backup → our restore: a tree with every kind of entry comes back entry by entry (type,
 * mode, owner, mtime to the microsecond, content, link target, rdev, hard-link groups, holes,
 * xattrs, ACLs), also over an existing tree (files replaced, directories kept and filled) and
 * with reads cut at odd chunk boundaries.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backup } from '../../src/backup.js';
import { restore } from '../../src/restore/index.js';
import { buildFullTree, compareTrees, isRoot, snapshotTree, tempDir } from '../helpers/tree.js';
import * as sysx from '../../src/native/sysx.js';
import { buildImage, dir, file, memInput, removeRestored, symlink } from '../helpers/image-builder.js';

describe('our backup → our restore', () => {
  let work: string;
  let src: string;
  let image: string;
  let expected: ReturnType<typeof snapshotTree>;

  before(async () => {
    work = tempDir('restore-rt');
    src = path.join(work, 'src');
    image = path.join(work, 'full.dump');
    buildFullTree(src);
    // The root's own attributes come back when the restore makes DEST.
    fs.chmodSync(src, 0o751);
    expected = snapshotTree(src, { includeRoot: true });
    await backup({ source: src, output: image, threads: 2 });
  });
  after(() => removeRestored(work));

  it('restores every entry exactly', async () => {
    const dest = path.join(work, 'out');
    const events: string[] = [];
    const s = await restore({ files: [image], dest, onEvent: (e) => events.push(e.type === 'phase' ? e.phase : e.type) });
    assert.deepEqual(s.skipped, []);
    assert.deepEqual(s.warnings, []);
    assert.equal(s.exitStatus, 0);
    assert.deepEqual(compareTrees(expected, snapshotTree(dest, { includeRoot: true, ignore: (rel) => rel === '.snapdump-restore.json' }), { mtimeResolutionNs: 1000n }), []);
    assert.deepEqual(events.filter((e) => ['catalog', 'create', 'extract', 'finish'].includes(e)), ['catalog', 'create', 'extract', 'finish']);
    // Every name but the hard links is one object; hard links are extra names.
    const names = [...expected.keys()].filter((k) => k !== '' && expected.get(k)!.type !== 'dir').length;
    assert.equal(s.files + s.links, names);
    assert.equal(s.links, 3);
    assert.equal(s.directories, [...expected.values()].filter((e) => e.type === 'dir').length);
    assert.ok(s.space?.checked && s.space.ok && s.space.dataBytes !== null, 'the space check ran with a known data size');
    assert.ok(s.dataBytes > 2_000_000 && s.dataBytes < 3_000_000, `data bytes ${s.dataBytes}: holes are not written`);
    if (isRoot) assert.equal(fs.statSync(path.join(dest, 'owner_big.txt')).uid, 70000);
    assert.equal(fs.statSync(path.join(dest, 'specials/chr_big')).rdev, fs.statSync(path.join(src, 'specials/chr_big')).rdev);
  });

  it('restores over an existing tree: files replaced, directories kept and filled, other entries left alone', async () => {
    const dest = path.join(work, 'over');
    await restore({ files: [image], dest });
    // Damage the restored tree in every way a name can differ.
    fs.writeFileSync(path.join(dest, 'small.txt'), 'changed\n');
    fs.chmodSync(path.join(dest, 'odd5000.bin'), 0o600);
    fs.rmSync(path.join(dest, 'link_short'));
    fs.writeFileSync(path.join(dest, 'link_short'), 'a file where a symlink was');
    fs.rmSync(path.join(dest, 'exact1k.bin'));
    fs.symlinkSync('/etc/passwd', path.join(dest, 'exact1k.bin'));
    fs.rmSync(path.join(dest, 'specials/fifo1'));
    fs.writeFileSync(path.join(dest, 'specials/fifo1'), '');
    fs.rmSync(path.join(dest, 'emptydir'), { recursive: true });
    fs.writeFileSync(path.join(dest, 'emptydir'), 'a file where a directory was');
    fs.chmodSync(path.join(dest, 'sub'), 0o700);
    fs.writeFileSync(path.join(dest, 'sub/extra.txt'), 'not in the image\n');
    const s = await restore({ files: [image], dest });
    assert.equal(s.exitStatus, 0, JSON.stringify(s.skipped));
    const got = snapshotTree(dest, { includeRoot: true, ignore: (rel) => rel === 'sub/extra.txt' || rel === '.snapdump-restore.json' });
    const diffs = compareTrees(expected, got, { mtimeResolutionNs: 1000n });
    // DEST existed this time: it keeps its own attributes; and sub's mtime moved with extra.txt.
    assert.deepEqual(diffs.filter((d) => !/^(mode|mtimeNs) differs: ""/.test(d)), []);
    assert.equal(fs.readFileSync(path.join(dest, 'sub/extra.txt'), 'utf8'), 'not in the image\n');
    assert.equal(fs.readFileSync('/etc/passwd', 'utf8').length > 0, true);
    assert.deepEqual(fs.readdirSync(dest).filter((n) => n.startsWith('.snapdump') && n !== '.snapdump-restore.json'), [], 'no temporary file left');
  });

  it('gives the same result with tiny reads (objects cut at every possible place)', async () => {
    const dest = path.join(work, 'tiny');
    const s = await restore({ files: [image], dest, readSize: 3000 });
    assert.equal(s.exitStatus, 0);
    assert.deepEqual(compareTrees(expected, snapshotTree(dest, { includeRoot: true, ignore: (rel) => rel === '.snapdump-restore.json' }), { mtimeResolutionNs: 1000n }), []);
  });
});

describe('attributes that must come last', () => {
  let work: string;
  before(() => { work = tempDir('restore-attrs'); });
  after(() => removeRestored(work));

  it('immutable and append-only entries get their links, attributes and times first', async () => {
    const flagsOf = (p: string) => {
      const fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      try { return sysx.getFlags(fd); } finally { fs.closeSync(fd); }
    };
    const img = buildImage([
      dir(2, 2, [{ ino: 3, name: 'frozen', type: 4 }, { ino: 10, name: 'imm', type: 8 }, { ino: 11, name: 'app', type: 8 }, { ino: 12, name: 'ln', type: 10 }]),
      dir(3, 2, [{ ino: 10, name: 'imm-link', type: 8 }, { ino: 13, name: 'inner', type: 8 }], { flags: 0x10, mtime: 1500000000, mtimeUsec: 250000, mode: 0o40555 }),
      file(10, 'immutable\n', { flags: 0x10 | 0x80000, mtime: 1234567890, mtimeUsec: 123456, atime: 1234567000, atimeUsec: 999999, uid: 4242, gid: 4343, mode: 0o104750, xattrs: [{ name: 'user.k', value: Buffer.from('v') }] }),
      file(11, 'append\n', { flags: 0x20, mtime: 1300000000 }),
      symlink(12, 'imm', { mtime: 1111111111, mtimeUsec: 5, uid: 7 }),
      file(13, 'inner\n', { flags: 0x10 }),
    ]);
    const dest = path.join(work, 'out');
    const s = await restore({ files: [], inputs: [memInput(img)], dest });
    assert.deepEqual([...s.skipped, ...s.warnings], []);
    const imm = path.join(dest, 'imm');
    assert.equal(flagsOf(imm) & 0x30, 0x10);
    assert.equal(fs.statSync(imm).ino, fs.statSync(path.join(dest, 'frozen/imm-link')).ino);
    assert.equal(sysx.getXattr(imm, 'user.k').toString(), 'v');
    const st = fs.statSync(imm, { bigint: true });
    assert.equal(st.mtimeNs, 1234567890_123456000n);
    assert.equal(st.atimeNs, 1234567000_999999000n);
    if (isRoot) assert.deepEqual([Number(st.uid), Number(st.gid), Number(st.mode & 0o7777n)], [4242, 4343, 0o4750], 'set-uid survives the chown');
    assert.equal(flagsOf(path.join(dest, 'app')) & 0x30, 0x20);
    assert.equal(fs.readFileSync(path.join(dest, 'app'), 'utf8'), 'append\n');
    const ln = fs.lstatSync(path.join(dest, 'ln'), { bigint: true });
    assert.equal(ln.mtimeNs, 1111111111_000005000n);
    if (isRoot) assert.equal(Number(ln.uid), 7);
    const frozen = path.join(dest, 'frozen');
    assert.equal(flagsOf(frozen) & 0x10, 0x10);
    assert.equal(fs.statSync(frozen, { bigint: true }).mtimeNs, 1500000000_250000000n);
    assert.equal(fs.statSync(frozen).mode & 0o7777, 0o555);
    assert.equal(fs.readFileSync(path.join(frozen, 'inner'), 'utf8'), 'inner\n');
  });
});
