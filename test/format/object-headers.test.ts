import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { RecordType } from '../../src/format/constants.js';
import { emptyInode, dataBlocksAfter, decodeHeader, patchTapea, type DumpInode } from '../../src/format/header.js';
import { chunkBlocks, endRecord, joinChunks, mapRecord, objectChunk, padToBlocks, volumeLabel, xattrChunk, type TapeChunk } from '../../src/format/object-headers.js';
import { type VolumeInfo } from '../../src/format/volume.js';
import { BLOCK, LEVEL0_VOLUME, block, patternBytes, readDecoded, readSample, wordSum } from '../helpers/format-fixtures.js';

const VOL: VolumeInfo = { ...LEVEL0_VOLUME };

function fileInode(size: number): DumpInode {
  return {
    ...emptyInode(), mode: 0o100644, nlink: 1, size, atime: 1795311504, mtime: 1795311505, ctime: 1795311506,
    uid: 1000, gid: 100, ouid: 1000, ogid: 100, flags: 0x80000, blocks: 8,
  };
}

/** Splits a chunk into its blocks, in order. */
function blocksOf(c: TapeChunk<Buffer>): Buffer[] {
  const all = Buffer.concat(c.parts);
  assert.equal(all.length % BLOCK, 0, 'chunk is whole blocks');
  return Array.from({ length: all.length / BLOCK }, (_, i) => all.subarray(i * BLOCK, (i + 1) * BLOCK));
}

/** Checks the structure of a chunk independently: header positions, checksums, data in between. */
function checkChunk(c: TapeChunk<Buffer>): Array<{ at: number; h: ReturnType<typeof decodeHeader> }> {
  const blocks = blocksOf(c);
  assert.equal(chunkBlocks(c), blocks.length);
  const out: Array<{ at: number; h: ReturnType<typeof decodeHeader> }> = [];
  let i = 0;
  while (i < blocks.length) {
    assert.equal(wordSum(blocks[i]!, 0, true), 84446, `checksum of the header at ${i}`);
    const h = decodeHeader(blocks[i]!, 0, 'le');
    assert.equal(h.tapea, 0, 'c_tapea is left for the writer');
    assert.equal(h.magic, 60012);
    out.push({ at: i, h });
    i += 1 + dataBlocksAfter(h);
  }
  assert.equal(i, blocks.length, 'the last header announces exactly the remaining blocks');
  assert.deepEqual(c.headers, out.map((x) => x.at));
  return out;
}

function checkVolumeFields(h: ReturnType<typeof decodeHeader>): void {
  assert.equal(h.date, VOL.date);
  assert.equal(h.ddate, VOL.ddate);
  assert.equal(h.volume, 1);
  assert.equal(h.level, VOL.level);
  assert.equal(h.label, VOL.label);
  assert.equal(h.filesys, VOL.filesys);
  assert.equal(h.dev, VOL.dev);
  assert.equal(h.host, VOL.host);
  assert.equal(h.ntrec, VOL.ntrec);
}

describe('volume records are byte-identical to Linux dump (level0.dump)', () => {
  const img = readSample('level0.dump');

  test('TS_TAPE = block 0', () => {
    const c = volumeLabel(VOL);
    assert.deepEqual(c.headers, [0]);
    assert.deepEqual(c.objects, []);
    assert.equal(c.parts.length, 1);
    assert.deepEqual(c.parts[0], block(img, 0));
  });

  test('TS_CLRI = block 1 and TS_BITS = block 5, once c_tapea is set', () => {
    const clriMap = Buffer.from(img.subarray(2 * BLOCK, 5 * BLOCK));
    const clri = mapRecord(VOL, RecordType.CLRI, clriMap, 0);
    assert.deepEqual(clri.headers, [0]);
    assert.equal(clri.parts[1], clriMap);
    assert.equal(chunkBlocks(clri), 4);
    const h = Buffer.from(clri.parts[0]!);
    patchTapea(h, 0, 1);
    assert.deepEqual(h, block(img, 1));

    const bitsMap = Buffer.from(img.subarray(6 * BLOCK, 9 * BLOCK));
    const bits = mapRecord(VOL, RecordType.BITS, bitsMap, 2);
    const hb = Buffer.from(bits.parts[0]!);
    patchTapea(hb, 0, 5);
    assert.deepEqual(hb, block(img, 5));
    checkChunk(clri);
    checkChunk(bits);
  });

  test('TS_END carries maxino - 1 and no data', () => {
    const e = endRecord(VOL);
    const h = decodeHeader(e, 0, 'le');
    assert.equal(h.type, 5);
    assert.equal(h.inumber, 16384);
    assert.equal(h.flags, 2);
    assert.equal(dataBlocksAfter(h), 0);
    checkVolumeFields(h);
  });
});

describe('objects are byte-identical to the independent writer (synthetic-le.dump)', () => {
  const img = readSample('synthetic-le.dump');
  const t = decodeHeader(img, 0, 'le');
  const vol: VolumeInfo = { date: t.date, ddate: t.ddate, volume: 1, level: t.level, label: t.label, filesys: t.filesys, dev: t.dev, host: t.host, ntrec: t.ntrec, maxino: 9 };

  test('TS_TAPE, every object header, and TS_END', () => {
    assert.deepEqual(volumeLabel(vol).parts[0], block(img, 0));
    const objects = readDecoded('synthetic-le.decoded').filter((d) => d.type === 'TS_INODE');
    assert.equal(objects.length, 7);
    for (const d of objects) {
      const orig = decodeHeader(img, d.block * BLOCK, 'le');
      const data = Buffer.from(img.subarray((d.block + 1) * BLOCK, (d.block + 1 + d.count) * BLOCK));
      const c = objectChunk(vol, d.ino, orig.inode, d.count, data, null);
      assert.equal(c.parts.length, d.count > 0 ? 2 : 1);
      const h = Buffer.from(c.parts[0]!);
      patchTapea(h, 0, d.block);
      assert.deepEqual(h, block(img, d.block), `header of inode ${d.ino}`);
      assert.deepEqual(c.objects, [[d.ino, 0]]);
    }
    const end = endRecord(vol);
    patchTapea(end, 0, 335);
    assert.deepEqual(end, block(img, 335));
  });
});

describe('objectChunk', () => {
  test('a 0-byte file: one TS_INODE with c_count 0 and nothing else', () => {
    const c = objectChunk(VOL, 2021, fileInode(0), 0, Buffer.alloc(0), null);
    assert.equal(c.parts.length, 1);
    assert.deepEqual(c.objects, [[2021, 0]]);
    const h = checkChunk(c)[0]!.h;
    assert.equal(h.type, 2);
    assert.equal(h.inumber, 2021);
    assert.equal(h.count, 0);
    assert.ok(h.addr.every((x) => x === 0));
    assert.equal(h.inode.size, 0);
    assert.equal(h.inode.mode, 0o100644);
    assert.equal(h.flags, 2);
    checkVolumeFields(h);
  });

  test('an exactly-1 KiB file: TS_INODE count 1 + one data block', () => {
    const data = patternBytes(1024, 1);
    const c = objectChunk(VOL, 2019, fileInode(1024), 1, data, null);
    assert.equal(chunkBlocks(c), 2);
    const hs = checkChunk(c);
    assert.equal(hs.length, 1);
    assert.equal(hs[0]!.h.count, 1);
    assert.equal(hs[0]!.h.addr[0], 1);
    assert.ok(hs[0]!.h.addr.subarray(1).every((x) => x === 0));
    assert.deepEqual(blocksOf(c)[1], data);
  });

  test('a 513-block file: TS_INODE count 512 + 512 blocks, TS_ADDR count 1 + 1 block', () => {
    const data = patternBytes(513 * 1024, 2);
    const inode = fileInode(513 * 1024 - 100);
    const c = objectChunk(VOL, 2028, inode, 513, data, null);
    assert.equal(chunkBlocks(c), 515);
    const hs = checkChunk(c);
    assert.deepEqual(hs.map((x) => [x.at, x.h.type, x.h.count]), [[0, 2, 512], [513, 4, 1]]);
    assert.ok(hs[0]!.h.addr.every((x) => x === 1));
    assert.equal(hs[1]!.h.addr[0], 1);
    assert.ok(hs[1]!.h.addr.subarray(1).every((x) => x === 0));
    for (const { h } of hs) {
      assert.equal(h.inumber, 2028);
      assert.equal(h.inode.size, inode.size, 'TS_ADDR repeats the inode fields');
      assert.equal(h.inode.mtime, inode.mtime);
    }
    assert.deepEqual(c.objects, [[2028, 0]]);
    const blocks = blocksOf(c);
    assert.deepEqual(Buffer.concat([...blocks.slice(1, 513), blocks[514]!]), data);
  });

  test('1024 blocks need exactly two headers, 1025 three', () => {
    const two = objectChunk(VOL, 5, fileInode(1024 * 1024), 1024, Buffer.alloc(1024 * 1024), null);
    assert.deepEqual(two.headers, [0, 513]);
    const three = objectChunk(VOL, 5, fileInode(1025 * 1024), 1025, Buffer.alloc(1025 * 1024), null);
    assert.deepEqual(three.headers, [0, 513, 1026]);
    assert.deepEqual(checkChunk(three).map((x) => x.h.count), [512, 512, 1]);
  });

  test('a sparse file: holes are c_addr 0 and only present blocks follow', () => {
    const present = Uint8Array.from([1, 0, 0, 1, 1, 0, 0, 0]);
    const data = patternBytes(3 * 1024, 3);
    const c = objectChunk(VOL, 2031, fileInode(8 * 1024), 8, data, present);
    assert.equal(chunkBlocks(c), 4);
    const h = checkChunk(c)[0]!.h;
    assert.equal(h.count, 8);
    assert.deepEqual(Array.from(h.addr.subarray(0, 8)), [1, 0, 0, 1, 1, 0, 0, 0]);
    assert.deepEqual(Buffer.concat(blocksOf(c).slice(1)), data);
  });

  test('sparse across headers, including a TS_ADDR that is all holes', () => {
    const present = new Uint8Array(1000);
    present[0] = 1;
    present[511] = 1;
    const data = patternBytes(2 * 1024, 4);
    const c = objectChunk(VOL, 2036, fileInode(1000 * 1024), 1000, data, present);
    const hs = checkChunk(c);
    assert.deepEqual(hs.map((x) => [x.at, x.h.type, x.h.count, dataBlocksAfter(x.h)]), [[0, 2, 512, 2], [3, 4, 488, 0]]);
    assert.ok(hs[1]!.h.addr.every((x) => x === 0));
    assert.equal(chunkBlocks(c), 4);

    const p2 = new Uint8Array(600);
    for (const i of [0, 511, 512, 599]) p2[i] = 1;
    const c2 = objectChunk(VOL, 7, fileInode(600 * 1024), 600, patternBytes(4 * 1024, 5), p2);
    const hs2 = checkChunk(c2);
    assert.deepEqual(hs2.map((x) => [x.at, x.h.count, dataBlocksAfter(x.h)]), [[0, 512, 2], [3, 88, 2]]);
    assert.equal(hs2[1]!.h.addr[0], 1);
    assert.equal(hs2[1]!.h.addr[87], 1);
    assert.deepEqual(Buffer.concat(blocksOf(c2).filter((_, i) => i !== 0 && i !== 3)), patternBytes(4 * 1024, 5));
  });

  test('all holes: headers only', () => {
    const c = objectChunk(VOL, 9, fileInode(4096), 4, Buffer.alloc(0), new Uint8Array(4));
    assert.equal(chunkBlocks(c), 1);
    assert.equal(checkChunk(c)[0]!.h.count, 4);
  });

  test('a continuation (firstType TS_ADDR) starts no object', () => {
    const c = objectChunk(VOL, 9, fileInode(4096), 2, Buffer.alloc(2048), null, { firstType: RecordType.ADDR });
    assert.deepEqual(c.objects, []);
    assert.equal(checkChunk(c)[0]!.h.type, 4);
  });
});

describe('xattrChunk', () => {
  test('an EA record: DR_EXTATTRIBUTES, c_extattributes 3, di_size = blob size, all blocks present', () => {
    const inode = fileInode(12);
    const blob = patternBytes(1024, 6);
    const c = xattrChunk(VOL, 2021, inode, blob);
    assert.deepEqual(c.objects, [], 'an EA record belongs to the object before it');
    const hs = checkChunk(c);
    assert.equal(hs.length, 1);
    const h = hs[0]!.h;
    assert.equal(h.type, 2);
    assert.equal(h.inumber, 2021);
    assert.equal(h.flags, 0x8002);
    assert.equal(h.extattributes, 3);
    assert.equal(h.count, 1);
    assert.equal(h.addr[0], 1);
    assert.equal(h.inode.size, 1024);
    assert.equal(h.inode.mode, inode.mode);
    assert.equal(h.inode.uid, 1000);
    assert.equal(h.inode.mtime, inode.mtime);
    assert.equal(inode.size, 12, 'the caller\'s inode is not modified');
    assert.deepEqual(blocksOf(c)[1], blob);
  });

  test('a 5 KiB blob: c_count 5', () => {
    const c = xattrChunk(VOL, 3, fileInode(0), Buffer.alloc(5120, 1));
    const h = checkChunk(c)[0]!.h;
    assert.equal(h.count, 5);
    assert.equal(h.inode.size, 5120);
    assert.equal(chunkBlocks(c), 6);
  });

  test('the same header fields as Linux dump\'s EA record of small.txt (level0 block 2104)', () => {
    const img = readSample('level0.dump');
    const real = decodeHeader(img, 2104 * BLOCK, 'le');
    const blob = Buffer.from(img.subarray(2105 * BLOCK, 2106 * BLOCK));
    const mine = decodeHeader(xattrChunk(VOL, 2021, real.inode, blob).parts[0]!, 0, 'le');
    for (const k of ['type', 'inumber', 'flags', 'extattributes', 'count', 'date', 'label', 'ntrec'] as const) {
      assert.equal(mine[k], real[k], k);
    }
    assert.equal(mine.addr[0], real.addr[0]);
    assert.equal(mine.inode.mode, real.inode.mode);
  });
});

describe('helpers', () => {
  test('padToBlocks', () => {
    const empty = padToBlocks(Buffer.alloc(0));
    assert.equal(empty.length, 1024);
    assert.ok(empty.every((x) => x === 0));
    const one = padToBlocks(Buffer.from([7]));
    assert.equal(one.length, 1024);
    assert.equal(one[0], 7);
    assert.ok(one.subarray(1).every((x) => x === 0));
    const whole = Buffer.alloc(2048, 3);
    assert.equal(padToBlocks(whole), whole, 'no copy when already whole blocks');
    const odd = Buffer.alloc(1500, 9);
    const p = padToBlocks(odd);
    assert.equal(p.length, 2048);
    assert.ok(p.subarray(0, 1500).every((x) => x === 9));
    assert.ok(p.subarray(1500).every((x) => x === 0));
    assert.equal(odd.length, 1500);
  });

  test('joinChunks shifts header and object positions', () => {
    const a = objectChunk(VOL, 10, fileInode(2048), 2, Buffer.alloc(2048), null);
    const b = xattrChunk(VOL, 10, fileInode(2048), Buffer.alloc(1024));
    const d = objectChunk(VOL, 11, fileInode(0), 0, Buffer.alloc(0), null);
    const j = joinChunks([a, b, d]);
    assert.deepEqual(j.headers, [0, 3, 5]);
    assert.deepEqual(j.objects, [[10, 0], [11, 5]]);
    assert.equal(chunkBlocks(j), 6);
    assert.equal(j.parts.length, a.parts.length + b.parts.length + d.parts.length);
    checkChunk(j);
    assert.deepEqual(joinChunks([]), { parts: [], headers: [], objects: [] });
  });
});
