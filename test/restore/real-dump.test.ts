/**
 * Images written by the real Linux dump 0.4b47 → our restore: an ext4 image of a full tree made
 * here (mke2fs -d, losetup, dump), and the reference samples in ../shared (checked against their
 * `restore -t` listings, the contents generate.sh wrote, and the real `restore -x` of the same
 * image); the "mini" tree in every variant (zlib, bzip2, -b 64, 4 KiB blocks, six volumes,
 * independent little- and big-endian writers) restores to the same tree.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { restore } from '../../src/restore/index.js';
import { prescanDataBytes } from '../../src/restore/space-check.js';
import * as sysx from '../../src/native/sysx.js';
import { buildFullTree, compareTrees, haveProgram, isRoot, run, snapshotTree, tempDir } from '../helpers/tree.js';
import { removeRestored } from '../helpers/image-builder.js';
import { ImageReader } from '../../src/read/image-reader.js';
import { openTapeSource } from '../../src/tape/source.js';
import { S_IFDIR, S_IFMT } from '../../src/format/constants.js';

const SAMPLES = fileURLToPath(new URL('../../../../shared/samples/linux-dump-0.4b47/', import.meta.url));
const haveDump = isRoot && haveProgram('dump') && haveProgram('mke2fs') && haveProgram('losetup');
const haveRestore = haveProgram('restore');

let work: string;
before(() => { work = tempDir('restore-real'); });
after(() => removeRestored(work));

describe('the real dump of an ext4 image → our restore', { skip: !haveDump && 'needs root, dump, mke2fs and losetup' }, () => {
  it('restores the tree the file system was made from', async () => {
    const src = path.join(work, 'src');
    buildFullTree(src);
    const img = path.join(work, 'fs.img');
    const dumpFile = path.join(work, 'fs.dump');
    // 4 KiB blocks: xattr_many.txt's attributes do not fit a 1 KiB EA block.
    const mk = run('mke2fs', ['-q', '-t', 'ext4', '-b', '4096', '-d', src, img, '64M']);
    assert.equal(mk.status, 0, mk.stderr);
    const loop = run('losetup', ['-f', '--show', img]);
    assert.equal(loop.status, 0, loop.stderr);
    const dev = loop.stdout.toString().trim();
    try {
      const d = run('dump', ['-0', '-f', dumpFile, dev]);
      assert.equal(d.status, 0, d.stderr);
    } finally {
      run('losetup', ['-d', dev]);
    }
    const dest = path.join(work, 'from-dump');
    const s = await restore({ files: [dumpFile], dest });
    assert.equal(s.exitStatus, 0, JSON.stringify(s.skipped));
    const diffs = compareTrees(snapshotTree(src), snapshotTree(dest, { ignore: (rel) => rel === '.snapdump-restore.json' }), { mtimeResolutionNs: 1_000_000_000n });
    // Linux dump writes devices with a major or minor above 255 as 0:0 (DUMP-FORMAT.md §5).
    assert.deepEqual(diffs, [`rdev differs: "specials/chr_big": expected ${fs.statSync(path.join(src, 'specials/chr_big')).rdev} got 0`, 'extra: "lost+found"']);
  });
});

describe('the reference samples of Linux dump 0.4b47 → our restore', () => {
  let dest: string;
  before(async () => {
    dest = path.join(work, 'level0');
    const s = await restore({ files: [SAMPLES + 'level0.dump'], dest, force: true });
    assert.equal(s.exitStatus, 0, JSON.stringify(s.skipped));
  });

  it('restores every name of the restore -t listing, with its inode grouping', () => {
    const listing = fs.readFileSync(SAMPLES + 'level0.listing', 'utf8').split('\n').filter((l) => /^ *\d+\t\./.test(l));
    const byIno = new Map<string, Set<bigint>>();
    for (const line of listing) {
      const [ino, p] = line.trim().split('\t') as [string, string];
      const st = fs.lstatSync(path.join(dest, p), { bigint: true });
      if (!st.isDirectory()) {
        const set = byIno.get(ino) ?? new Set<bigint>();
        set.add(st.ino);
        byIno.set(ino, set);
      }
    }
    assert.equal(listing.length, 2038);
    for (const [ino, set] of byIno) assert.equal(set.size, 1, `inode ${ino}: all its names are one file`);
    assert.equal(fs.lstatSync(path.join(dest, 'small.txt')).nlink, 3);
  });

  it('has the contents generate.sh wrote', () => {
    const p = (rel: string) => path.join(dest, rel);
    assert.equal(fs.readFileSync(p('small.txt'), 'utf8'), 'hello world\n');
    assert.equal(fs.readFileSync(p('exact1k.bin'), 'utf8'), '0'.repeat(1024));
    assert.equal(fs.statSync(p('random3m.bin')).size, 3 * 1024 * 1024);
    assert.equal(fs.statSync(p('odd5000.bin')).size, 5000);
    const sparse = fs.readFileSync(p('sparse.bin'));
    assert.equal(sparse.length, 10 * 1024 * 1024);
    assert.equal(sparse.subarray(0, 4).toString(), 'HEAD');
    assert.equal(sparse.subarray(5_000_000, 5_000_006).toString(), 'MIDDLE');
    assert.equal(sparse.subarray(sparse.length - 3).toString(), 'END');
    assert.ok(fs.statSync(p('sparse.bin')).blocks * 512 < 64 * 1024, 'holes stay holes');
    const tail = fs.statSync(p('tailhole.bin'));
    assert.equal(tail.size, 2 * 1024 * 1024);
    assert.ok(tail.blocks * 512 <= 8192);
    assert.equal(fs.readlinkSync(p('link_short')), 'small.txt');
    assert.equal(fs.readlinkSync(p('link_long')), 'd/'.repeat(60) + 'target');
    assert.ok(fs.lstatSync(p('fifo1')).isFIFO());
    assert.ok(fs.lstatSync(p('sock1')).isSocket());
    const chr = fs.lstatSync(p('chr_null'));
    assert.ok(chr.isCharacterDevice());
    assert.deepEqual([sysx.major(chr.rdev), sysx.minor(chr.rdev)], [1, 3]);
    const blk = fs.lstatSync(p('blk_loop'));
    assert.ok(blk.isBlockDevice());
    assert.deepEqual([sysx.major(blk.rdev), sysx.minor(blk.rdev)], [7, 200]);
    assert.equal(fs.readFileSync(p('café-€.txt'), 'utf8'), 'u\n');
    assert.equal(fs.readFileSync(p('n'.repeat(254)), 'utf8'), 'long\n');
    assert.equal(fs.readdirSync(p('bigdir')).length, 2000);
    assert.equal(fs.readFileSync(p('sub/deeper/nested.txt'), 'utf8'), 'nested\n');
    const owner = fs.statSync(p('owner_big.txt'));
    assert.deepEqual([owner.uid, owner.gid], [70000, 70001]);
    const times = fs.statSync(p('times.txt'));
    assert.equal(times.mtime.toISOString(), '2001-02-03T04:05:06.000Z');
    assert.equal(times.atime.toISOString(), '2002-03-04T05:06:07.000Z');
    assert.equal(fs.statSync(p('y2040.txt')).mtime.toISOString(), '2040-01-01T00:00:00.000Z');
    assert.equal(sysx.getXattr(p('small.txt'), 'user.comment').toString(), 'hello xattr');
    assert.equal(sysx.getXattr(p('xattr_big.txt'), 'user.big').toString(), 'x'.repeat(300));
    // ACLs in kernel form: u:1000:rw-, g:100:r-- (and acldir's default ACL).
    const acl = sysx.getXattr(p('acl.txt'), 'system.posix_acl_access');
    assert.equal(acl.toString('hex'), '0200000001000600ffffffff02000600e803000004000400ffffffff0800040064000000100006' + '00ffffffff20000400ffffffff');
    assert.ok(sysx.getXattr(p('acldir'), 'system.posix_acl_default').includes(Buffer.from([0x02, 0, 7, 0, 0xe8, 3, 0, 0])));
    const flags = (rel: string) => {
      const fd = fs.openSync(p(rel), 'r');
      try { return sysx.getFlags(fd); } finally { fs.closeSync(fd); }
    };
    assert.equal(flags('appendonly.txt') & sysx.FS_APPEND_FL, sysx.FS_APPEND_FL, 'append-only (set last)');
    assert.equal(flags('appendonly.txt') & ~0x80000, sysx.FS_APPEND_FL);
    assert.equal(flags('noatime.txt') & sysx.FS_NOATIME_FL, sysx.FS_NOATIME_FL);
    assert.equal(flags('nodump.txt') & sysx.FS_NODUMP_FL, sysx.FS_NODUMP_FL);
  });

  it('is the tree the real restore -x makes of the same image', { skip: !(haveRestore && isRoot) && 'needs root and Linux restore' }, () => {
    const ref = path.join(work, 'level0-real');
    fs.mkdirSync(ref);
    const r = run('restore', ['-x', '-a', '-o', '-y', '-f', SAMPLES + 'level0.dump'], { cwd: ref });
    assert.equal(r.status, 0, r.stderr);
    fs.rmSync(path.join(ref, 'restoresymtable'), { force: true });
    assert.deepEqual(compareTrees(snapshotTree(ref), snapshotTree(dest, { ignore: (rel) => rel === '.snapdump-restore.json' })), []);
  });

  it('adds up the data of an image from its headers alone, across volumes too', async () => {
    const all = () => true;
    const b64 = await prescanDataBytes([SAMPLES + 'mini-b64.dump'], 'le', all, 1024);
    const mv = await prescanDataBytes(['001', '002', '003', '004', '005', '006'].map((v) => `${SAMPLES}mini-mv${v}`), 'le', all, 1024);
    // text.txt 8000 lines of 40 bytes, five-k.txt 5000, a.txt 6, odd.bin 3, link's 9-byte target.
    assert.deepEqual(b64, { data: 320000 + 5000 + 6 + 3 + 9, allocated: 320512 + 5120 + 1024 + 1024 + 1024 });
    assert.deepEqual(mv, b64);
    assert.equal(await prescanDataBytes([SAMPLES + 'level0-z.dump'], 'le', all, 1024), null, 'compressed: unknown');
    // Large files (headers 512 blocks apart, read with small windows) and sparse ones: the data
    // the reader gives for every non-directory object.
    let data = 0;
    const source = await openTapeSource([SAMPLES + 'level0.dump']);
    try {
      for await (const item of new ImageReader(source)) {
        if (item.kind !== 'inode' || (item.header.inode.mode & S_IFMT) === S_IFDIR) continue;
        for await (const p of item.data()) data += p.data ? p.data.length : 0;
      }
    } finally {
      await source.close();
    }
    assert.ok(data > 3 * 1024 * 1024);
    assert.equal((await prescanDataBytes([SAMPLES + 'level0.dump'], 'le', all, 1024))?.data, data);
  });

  it('restores the "mini" tree identically from every variant of the image', async () => {
    const variants: Array<[string, string[]]> = [
      ['z', ['level0-z.dump']], ['j', ['level0-j.dump']], ['b64', ['mini-b64.dump']], ['4k', ['mini-4k.dump']],
      ['mv', ['001', '002', '003', '004', '005', '006'].map((v) => `mini-mv${v}`)],
      ['le', ['synthetic-le.dump']], ['be', ['synthetic-be.dump']],
    ];
    const text = Array.from({ length: 8000 }, (_, i) => `line ${String(i).padStart(6, '0')} of a compressible text file\n`).join('');
    let first: ReturnType<typeof snapshotTree> | null = null;
    for (const [name, files] of variants) {
      const d = path.join(work, `mini-${name}`);
      const s = await restore({ files: files.map((f) => SAMPLES + f), dest: d, force: true });
      assert.equal(s.exitStatus, 0, `${name}: ${JSON.stringify(s.skipped)}`);
      assert.equal(fs.readFileSync(path.join(d, 'text.txt'), 'utf8'), text, name);
      assert.equal(fs.readFileSync(path.join(d, 'dir/a.txt'), 'utf8'), 'hello\n', name);
      assert.equal(fs.readFileSync(path.join(d, 'dir/odd.bin'), 'utf8'), 'odd', name);
      assert.equal(fs.readFileSync(path.join(d, 'dir/five-k.txt'), 'utf8'), text.slice(0, 5000), name);
      assert.equal(fs.readlinkSync(path.join(d, 'link')), 'dir/a.txt', name);
      const tree = snapshotTree(d, { ignore: (rel) => rel === 'lost+found' || rel === '.snapdump-restore.json' });
      if (first === null) first = tree;
      else assert.deepEqual(compareTrees(first, tree, { ignore: ['mtimeNs', 'uid', 'gid', 'allocated'] }), [], name);
    }
  });
});
