/**
 * Directory inode flags and extended attributes, which the walk reads on the descriptor it lists
 * a directory with, reach the image (the directory's header and its EA records) and a restore,
 * at level 0 and in an incremental.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backup } from '../../src/backup.js';
import { restore } from '../../src/restore/index.js';
import { STATE_FILE } from '../../src/restore/chain.js';
import { DR_EXTATTRIBUTES, TP_BSIZE } from '../../src/format/constants.js';
import { dataBlocksAfter, decodeHeader } from '../../src/format/header.js';
import { decodeXattrs } from '../../src/format/xattr.js';
import * as sysx from '../../src/native/sysx.js';
import { compareTrees, removeTree, snapshotTree, tempDir } from '../helpers/tree.js';

const TS_INODE = 2, TS_END = 5;
const FS_NODUMP_FL = 0x40, FS_NOATIME_FL = 0x80;

function flagsOf(p: string): number {
  const fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try { return sysx.getFlags(fd); } finally { fs.closeSync(fd); }
}

interface ImageObject { flags: number; xattrs: Record<string, string> }

/** The TS_INODE objects of an image by inode number: their flags and the EAs behind them. */
function objectsOf(image: string): Map<number, ImageObject> {
  const buf = fs.readFileSync(image);
  const out = new Map<number, ImageObject>();
  for (let at = 0; at + TP_BSIZE <= buf.length;) {
    const h = decodeHeader(buf, at, 'le');
    const blocks = dataBlocksAfter(h);
    if (h.type === TS_INODE && (h.flags & DR_EXTATTRIBUTES)) {
      const obj = out.get(h.inumber)!;
      for (const a of decodeXattrs(buf.subarray(at + TP_BSIZE, at + TP_BSIZE + h.inode.size)).attrs) obj.xattrs[a.name] = Buffer.from(a.value).toString();
    } else if (h.type === TS_INODE) {
      out.set(h.inumber, { flags: h.inode.flags, xattrs: {} });
    }
    if (h.type === TS_END) break;
    at += (1 + blocks) * TP_BSIZE;
  }
  return out;
}

const nextSecond = () => new Promise((r) => setTimeout(r, 1100));

describe('directory flags and extended attributes', () => {
  let work: string;
  let src: string;
  let supported = true;
  before(() => {
    work = tempDir('dir-attrs');
    src = path.join(work, 'src');
    for (const d of ['plain', 'flagged', 'ea', 'both/inner']) fs.mkdirSync(path.join(src, d), { recursive: true });
    for (const d of ['plain', 'flagged', 'ea', 'both/inner']) fs.writeFileSync(path.join(src, d, 'f'), d);
    try {
      for (const d of ['flagged', 'both']) execFileSync('chattr', ['+dA', path.join(src, d)], { stdio: 'pipe' });
    } catch {
      supported = false;
    }
    for (const d of ['ea', 'both']) sysx.setXattr(path.join(src, d), 'user.x', Buffer.from(`v-${d}`));
  });
  after(() => removeTree(work));

  it('reach the image and a restore, at level 0 and in a level 1', async (t) => {
    if (!supported) return t.skip('chattr not supported on this file system');
    const state = path.join(work, 'state');
    const dest = path.join(work, 'dest');
    const images = [path.join(work, 'l0.dump'), path.join(work, 'l1.dump')];
    // An object changed in the level 0's second is dumped again at level 1 (as Linux dump does).
    await nextSecond();
    const s0 = await backup({ source: src, output: images[0]!, level: 0, stateDir: state, name: 'attrs' });
    assert.equal(s0.exitStatus, 0, JSON.stringify(s0.skipped));
    await nextSecond();
    // The level 1 dumps the directories on the path to a changed file, and those alone.
    fs.writeFileSync(path.join(src, 'both/inner/f'), 'changed');
    fs.writeFileSync(path.join(src, 'flagged/f'), 'changed');
    const s1 = await backup({ source: src, output: images[1]!, level: 1, stateDir: state, name: 'attrs' });
    assert.equal(s1.exitStatus, 0, JSON.stringify(s1.skipped));

    const want = (d: string) => ({
      flags: flagsOf(path.join(src, d)),
      xattrs: d === 'ea' || d === 'both' ? { 'user.x': `v-${d}` } : {},
    });
    const inoOf = (d: string) => (d === '' ? 2 : fs.statSync(path.join(src, d)).ino);
    for (const [i, dirs] of [['', 'plain', 'flagged', 'ea', 'both', 'both/inner'], ['', 'flagged', 'both', 'both/inner']].entries()) {
      const objects = objectsOf(images[i]!);
      for (const d of dirs) assert.deepEqual(objects.get(inoOf(d)), want(d), `image ${i}: ${d || '.'}`);
      if (i === 1) assert.equal(objects.has(inoOf('ea')), false, 'an unchanged directory is not in the level 1');
    }
    assert.equal(flagsOf(path.join(src, 'flagged')) & (FS_NODUMP_FL | FS_NOATIME_FL), FS_NODUMP_FL | FS_NOATIME_FL);

    for (const img of images) {
      const r = await restore({ files: [img], dest });
      assert.equal(r.exitStatus, 0, JSON.stringify([...r.skipped, ...r.warnings]));
    }
    const ignore = (rel: string) => rel === STATE_FILE;
    assert.deepEqual(compareTrees(snapshotTree(src), snapshotTree(dest, { ignore }), { mtimeResolutionNs: 1000n }), []);
    for (const d of ['plain', 'flagged', 'ea', 'both', 'both/inner']) {
      assert.equal(flagsOf(path.join(dest, d)) & (FS_NODUMP_FL | FS_NOATIME_FL), flagsOf(path.join(src, d)) & (FS_NODUMP_FL | FS_NOATIME_FL), d);
    }
  });
});
