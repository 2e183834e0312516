/**
 * The synchronous header scan (what an NDMP backup's file history reads) sees exactly the inodes,
 * header offsets and directory contents ImageReader sees, however the stream is cut into writes;
 * a stream that is not a well-formed image stops it with a reason instead.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { backup } from '../../src/backup.js';
import { S_IFDIR, S_IFMT } from '../../src/format/constants.js';
import { HeaderScanner } from '../../src/read/header-scan.js';
import { ImageReader } from '../../src/read/image-reader.js';
import { openTapeSource } from '../../src/tape/source.js';
import { buildFullTree, pseudoRandom, removeTree, tempDir } from '../helpers/tree.js';

const SAMPLES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../shared/samples/linux-dump-0.4b47');

interface Seen { offset: number; ino: number; mode: number; size: number; contents: string | null }

async function readerView(file: string): Promise<Seen[]> {
  const source = await openTapeSource([file]);
  try {
    const out: Seen[] = [];
    for await (const item of new ImageReader(source)) {
      if (item.kind !== 'inode') continue;
      const dir = (item.header.inode.mode & S_IFMT) === S_IFDIR;
      const contents = dir ? (await item.readAll({ dropHoles: true })).toString('hex') : null;
      out.push({ offset: item.offset, ino: item.ino, mode: item.header.inode.mode, size: item.header.inode.size, contents });
    }
    return out;
  } finally {
    await source.close();
  }
}

function scanView(bytes: Buffer, cuts: number[]): { seen: Seen[]; failure: string | null } {
  const seen: Seen[] = [];
  const s = new HeaderScanner((i) => seen.push({
    offset: i.offset, ino: i.header.inumber, mode: i.header.inode.mode, size: i.header.inode.size, contents: i.contents ? i.contents.toString('hex') : null,
  }));
  let at = 0;
  for (const c of [...new Set(cuts)].sort((a, b) => a - b)) {
    s.push(bytes.subarray(at, c));
    at = c;
  }
  s.push(bytes.subarray(at));
  s.end();
  return { seen, failure: s.failure };
}

describe('header scan', () => {
  let work: string;
  const images: string[] = [];
  before(async () => {
    work = tempDir('header-scan');
    const src = path.join(work, 'src');
    buildFullTree(src);
    // A directory of more than 512 blocks (continued by TS_ADDR), a file with holes, one of more than 512 blocks.
    const big = path.join(src, 'manynames');
    fs.mkdirSync(big);
    for (let i = 0; i < 2700; i++) fs.writeFileSync(path.join(big, `${String(i).padStart(5, '0')}-${'n'.repeat(190)}`), '');
    const sparse = fs.openSync(path.join(src, 'holes'), 'w');
    fs.writeSync(sparse, pseudoRandom(3000, 1), 0, 3000, 2 << 20);
    fs.writeSync(sparse, pseudoRandom(100, 2), 0, 100, 5 << 20);
    fs.closeSync(sparse);
    fs.writeFileSync(path.join(src, 'large'), pseudoRandom(700 * 1024 + 5, 3));
    const img = path.join(work, 'ours.dump');
    assert.equal((await backup({ source: src, output: img, stateDir: path.join(work, 'state') })).exitStatus, 0);
    images.push(img);
    for (const s of ['level0.dump', 'level1.dump', 'mini-4k.dump', 'mini-b64.dump']) {
      const f = path.join(SAMPLES, s);
      if (fs.existsSync(f)) images.push(f);
    }
  });
  after(() => removeTree(work));

  it('sees what ImageReader sees, however the stream is cut', async () => {
    for (const img of images) {
      const bytes = fs.readFileSync(img);
      const expected = await readerView(img);
      assert.ok(expected.length > 5, `${img}: ${expected.length} inodes`);
      const whole = scanView(bytes, []);
      assert.equal(whole.failure, null, img);
      assert.deepEqual(whole.seen, expected, img);
      fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 40 }), (cuts) => {
        const r = scanView(bytes, cuts);
        assert.equal(r.failure, null);
        assert.deepEqual(r.seen, expected);
      }), { numRuns: 15 });
      // Cut into single bytes around the first headers (blocks split anywhere).
      const tiny = scanView(bytes, Array.from({ length: 4096 }, (_, i) => i + 1));
      assert.deepEqual(tiny.seen, expected, `${img}, byte by byte at the start`);
    }
  });

  it('the directory over 512 blocks and the files with holes or TS_ADDR were in the scan', async () => {
    const { seen } = scanView(fs.readFileSync(images[0]!), []);
    assert.ok(seen.some((s) => s.contents !== null && s.contents.length / 2 > 512 * 1024), 'a directory of more than 512 KiB');
    assert.ok(seen.some((s) => s.size === (5 << 20) + 100), 'the sparse file');
  });

  it('file data skipped (copied in the kernel) gives the same view; anything else skipped stops the scan', () => {
    const bytes = fs.readFileSync(images[0]!);
    const expected = scanView(bytes, []).seen;
    const withSkip = (from: number, length: number) => {
      const seen: Seen[] = [];
      const s = new HeaderScanner((i) => seen.push({
        offset: i.offset, ino: i.header.inumber, mode: i.header.inode.mode, size: i.header.inode.size, contents: i.contents ? i.contents.toString('hex') : null,
      }));
      s.push(bytes.subarray(0, from));
      s.skip(length);
      s.push(bytes.subarray(from + length));
      s.end();
      return { seen, failure: s.failure };
    };
    // The 701-block file: 512 blocks after its TS_INODE, 189 after a TS_ADDR.
    const large = expected.find((e) => e.size === 700 * 1024 + 5)!;
    for (const [from, length] of [[large.offset + 1024, 512 * 1024], [large.offset + 1024 + 100 * 1024, 300 * 1024], [large.offset + 1024 + 513 * 1024, 189 * 1024]] as const) {
      const r = withSkip(from, length);
      assert.equal(r.failure, null, `skip ${length} at ${from}`);
      assert.deepEqual(r.seen, expected);
    }
    // More than the header announced (into the TS_ADDR header), a directory's blocks, half a block.
    assert.match(withSkip(large.offset + 1024, 513 * 1024).failure ?? '', /not only file data/);
    const dir = expected.find((e) => e.contents !== null && e.contents.length > 0)!;
    assert.match(withSkip(dir.offset + 1024, 1024).failure ?? '', /not only file data/);
    assert.match(withSkip(large.offset + 1024 + 100, 1024).failure ?? '', /not only file data/);
  });

  it('a stream cut short or with a damaged header stops the scan with a reason', () => {
    const bytes = fs.readFileSync(images[0]!);
    const cut = scanView(bytes.subarray(0, Math.floor(bytes.length / 2)), []);
    assert.match(cut.failure ?? '', /ends at byte \d+ without its end header/);
    const bad = Buffer.from(bytes);
    // The first header after the volume header and the maps: flip a byte of it.
    const view = scanView(bytes, []);
    const at = view.seen[3]!.offset;
    bad[at + 100] ^= 0xff;
    const r = scanView(bad, []);
    assert.match(r.failure ?? '', new RegExp(`no valid header at byte ${at}`));
    assert.deepEqual(r.seen, view.seen.slice(0, 3), 'the objects before the damage were reported');
  });
});
