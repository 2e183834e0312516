import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';

import {
  decodeDirectory, encodeDirectory, entryLength, MAX_NAME_BYTES, restoreMinLength, type DirEntry,
} from '../../src/format/directory.js';
import { BLOCK, readDecoded, readSample } from '../helpers/format-fixtures.js';

const DT: Record<string, number> = { fifo: 1, chr: 2, dir: 4, blk: 6, reg: 8, lnk: 10, sock: 12 };

function ent(ino: number, name: string, type = 8): DirEntry {
  return { ino, type, name: Buffer.from(name, 'utf8') };
}

interface Rec { off: number; ino: number; reclen: number; type: number; namlen: number; name: Buffer }

/** Independent record walk (little-endian, well-formed input). */
function records(buf: Buffer): Rec[] {
  const out: Rec[] = [];
  let off = 0;
  while (off < buf.length) {
    const reclen = buf.readUInt16LE(off + 4);
    assert.ok(reclen > 0, `reclen 0 at ${off}`);
    const namlen = buf[off + 7]!;
    out.push({ off, ino: buf.readUInt32LE(off), reclen, type: buf[off + 6]!, namlen, name: buf.subarray(off + 8, off + 8 + namlen) });
    off += reclen;
  }
  return out;
}

const minLen = (n: number): number => 4 * Math.ceil((8 + n + 1) / 4);

function plainEntries(list: readonly DirEntry[]): Array<{ ino: number; type: number; name: string }> {
  return list.map((e) => ({ ino: e.ino, type: e.type, name: Buffer.from(e.name).toString('hex') }));
}

describe('restoreMinLength (restore\'s DIRSIZ with the 8-bit wrap of §4.4)', () => {
  test('values', () => {
    assert.deepEqual([0, 1, 3, 4, 200, 254].map(restoreMinLength), [12, 12, 12, 16, 212, 264]);
    assert.equal(restoreMinLength(255), 8);
  });
});

describe('entryLength', () => {
  test('8-byte head + name + NUL, rounded up to 4', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 7, 8, 11, 12, 254, 255].map(entryLength), [12, 12, 12, 16, 16, 16, 20, 20, 24, 264, 264]);
    for (let n = 1; n <= 255; n++) assert.equal(entryLength(n), minLen(n));
    assert.equal(MAX_NAME_BYTES, 255);
  });
});

describe('encodeDirectory packing (§4.1)', () => {
  test('exact bytes of a small directory', () => {
    const buf = encodeDirectory([ent(2, '.', 4), ent(2, '..', 4), ent(12, 'abcd', 8)]);
    const expected = Buffer.alloc(512);
    expected.writeUInt32LE(2, 0); expected.writeUInt16LE(12, 4); expected[6] = 4; expected[7] = 1; expected.write('.', 8);
    expected.writeUInt32LE(2, 12); expected.writeUInt16LE(12, 16); expected[18] = 4; expected[19] = 2; expected.write('..', 20);
    expected.writeUInt32LE(12, 24); expected.writeUInt16LE(488, 28); expected[30] = 8; expected[31] = 4; expected.write('abcd', 32);
    assert.deepEqual(buf, expected);
  });

  test('no entries: one empty 512-byte chunk', () => {
    const buf = encodeDirectory([]);
    assert.equal(buf.length, 512);
    assert.equal(buf.readUInt32LE(0), 0);
    assert.equal(buf.readUInt16LE(4), 512);
    assert.deepEqual(decodeDirectory(buf, 512), { entries: [], mangled: [] });
  });

  test('entries exactly filling a chunk stay in it; one more starts a new chunk', () => {
    const names = Array.from({ length: 33 }, (_, i) => `n${String(i).padStart(3, '0')}`); // 4 bytes → 16 each
    const full = encodeDirectory(names.slice(0, 32).map((n, i) => ent(100 + i, n)));
    assert.equal(full.length, 512);
    const r = records(full);
    assert.equal(r.length, 32);
    assert.ok(r.every((x) => x.reclen === 16));
    const over = encodeDirectory(names.map((n, i) => ent(100 + i, n)));
    assert.equal(over.length, 1024);
    const r2 = records(over);
    assert.equal(r2.length, 33);
    assert.equal(r2[32]!.off, 512);
    assert.equal(r2[32]!.reclen, 512, 'last entry stretched to the end of its chunk');
    assert.equal(r2[31]!.reclen, 16);
  });

  test('an entry that does not fit moves to the next chunk and the previous last one is stretched', () => {
    // ".", ".." (24 bytes) + 30 × 16 = 504; the 31st 16-byte entry would cross 512.
    const list = [ent(2, '.', 4), ent(2, '..', 4), ...Array.from({ length: 40 }, (_, i) => ent(1000 + i, `file-${String(i).padStart(2, '0')}`))];
    const buf = encodeDirectory(list);
    assert.equal(buf.length, 1024);
    const r = records(buf);
    assert.equal(r.length, 42);
    assert.equal(r[31]!.off, 24 + 29 * 16);
    assert.equal(r[31]!.reclen, 512 - (24 + 29 * 16));
    assert.equal(r[32]!.off, 512);
    assert.equal(r[41]!.off + r[41]!.reclen, 1024);
  });

  test('255-byte names get reclen 264 (not the 8 of Linux dump\'s 8-bit bug)', () => {
    const long = 'L'.repeat(255);
    const buf = encodeDirectory([ent(20, long), ent(21, 'a')]);
    const r = records(buf);
    assert.equal(r[0]!.reclen, 264);
    assert.equal(r[0]!.namlen, 255);
    assert.equal(buf[8 + 255], 0, 'NUL after the name');
    assert.equal(r[1]!.off, 264);
    assert.equal(r[1]!.reclen, 248);
    const two = encodeDirectory([ent(20, long), ent(21, long.replace(/L/g, 'M'))]);
    assert.equal(two.length, 1024);
    const r2 = records(two);
    assert.deepEqual(r2.map((x) => [x.off, x.reclen]), [[0, 512], [512, 512]]);
    const d = decodeDirectory(two, two.length);
    assert.deepEqual(d.mangled, []);
    assert.equal(Buffer.from(d.entries[1]!.name).toString(), 'M'.repeat(255));
  });

  test('string names are written as UTF-8 and measured in bytes', () => {
    const buf = encodeDirectory([{ ino: 5, type: 8, name: 'café' }, { ino: 6, type: 8, name: Buffer.from('café', 'utf8') }]);
    const r = records(buf);
    assert.equal(r[0]!.namlen, 5);
    assert.equal(r[0]!.reclen, 16);
    assert.deepEqual(r[0]!.name, Buffer.from('café', 'utf8'));
    assert.deepEqual([r[1]!.off, r[1]!.namlen], [16, 5]);
    assert.deepEqual(r[1]!.name, r[0]!.name);
    assert.throws(() => encodeDirectory([{ ino: 7, type: 8, name: '€'.repeat(86) }]), RangeError, '258 bytes');
    assert.equal(records(encodeDirectory([{ ino: 7, type: 8, name: '€'.repeat(85) }]))[0]!.namlen, 255);
  });

  test('names of 0 or more than 255 bytes are refused', () => {
    assert.throws(() => encodeDirectory([ent(2, '.'), { ino: 3, type: 8, name: new Uint8Array(0) }]), RangeError);
    assert.throws(() => encodeDirectory([ent(3, 'x'.repeat(256))]), RangeError);
  });

  const arbName = fc.uint8Array({ minLength: 1, maxLength: 255 }).map((a) => a.map((b) => (b === 0 || b === 0x2f ? 0x5f : b)));
  const arbEntry: fc.Arbitrary<DirEntry> = fc.record({
    ino: fc.integer({ min: 1, max: 0xffffffff }),
    type: fc.constantFrom(0, 1, 2, 4, 6, 8, 10, 12),
    name: arbName,
  });
  const arbList = fc.array(arbEntry, { maxLength: 60 });

  test('property: packing rules hold for random directories', () => {
    fc.assert(fc.property(arbList, (list) => {
      const withDots = [ent(2, '.', 4), ent(2, '..', 4), ...list];
      const buf = encodeDirectory(withDots);
      assert.equal(buf.length % 512, 0);
      const r = records(buf);
      assert.equal(r.length, withDots.length);
      // "." and ".." first, then the entries in order.
      assert.equal(r[0]!.name.toString(), '.');
      assert.equal(r[1]!.name.toString(), '..');
      let chunks = 1;
      let used = 0;
      for (let i = 0; i < r.length; i++) {
        const x = r[i]!;
        const e = withDots[i]!;
        assert.equal(x.ino, e.ino);
        assert.equal(x.type, e.type);
        assert.deepEqual(Buffer.from(x.name), Buffer.from(e.name));
        assert.equal(buf[x.off + 8 + x.namlen], 0, 'name NUL-terminated');
        assert.equal(x.reclen % 4, 0);
        assert.ok(x.reclen >= minLen(x.namlen));
        assert.equal(Math.floor(x.off / 512), Math.floor((x.off + x.reclen - 1) / 512), 'never crosses a 512-byte chunk');
        const len = minLen(e.name.length);
        if (used + len > 512) { chunks++; used = 0; }
        assert.equal(x.off, (chunks - 1) * 512 + used, 'packed at the minimum length');
        used += len;
        const lastInChunk = i === r.length - 1 || r[i + 1]!.off % 512 === 0;
        if (lastInChunk) assert.equal((x.off + x.reclen) % 512, 0, 'last entry stretched to the chunk end');
        else assert.equal(x.reclen, len);
      }
      assert.equal(buf.length, chunks * 512, 'as few chunks as the greedy packing needs');
    }), { numRuns: 200 });
  });

  test('property: decodeDirectory gives the entries back', () => {
    fc.assert(fc.property(arbList, (list) => {
      const buf = encodeDirectory(list);
      const d = decodeDirectory(buf, buf.length);
      assert.deepEqual(d.mangled, []);
      assert.deepEqual(plainEntries(d.entries), plainEntries(list));
    }), { numRuns: 200 });
  });
});

describe('decodeDirectory', () => {
  const list = [ent(2, '.', 4), ent(2, '..', 4), ...Array.from({ length: 40 }, (_, i) => ent(1000 + i, `file-${String(i).padStart(2, '0')}`))];
  const good = encodeDirectory(list);
  const at5 = 24 + 5 * 16; // offset of file-05
  const survivors = [...list.slice(0, 7), ...list.slice(32)];

  const mangle: Array<[string, (b: Buffer) => void]> = [
    ['reclen not a multiple of 4', (b) => b.writeUInt16LE(18, at5 + 4)],
    ['reclen past the chunk end', (b) => b.writeUInt16LE(512, at5 + 4)],
    ['reclen shorter than the name needs', (b) => b.writeUInt16LE(12, at5 + 4)],
    ['reclen 0', (b) => b.writeUInt16LE(0, at5 + 4)],
    ['name length beyond the record', (b) => { b[at5 + 7] = 200; }],
  ];
  for (const [what, f] of mangle) {
    test(`a mangled record (${what}) skips to the next chunk and is reported`, () => {
      const b = Buffer.from(good);
      f(b);
      const d = decodeDirectory(b, b.length);
      assert.deepEqual(d.mangled, [at5]);
      assert.deepEqual(plainEntries(d.entries), plainEntries(survivors));
    });
  }

  test('an unused slot (ino 0) is skipped silently', () => {
    const b = Buffer.from(good);
    b.writeUInt32LE(0, at5);
    const d = decodeDirectory(b, b.length);
    assert.deepEqual(d.mangled, []);
    assert.deepEqual(plainEntries(d.entries), plainEntries(list.filter((_, i) => i !== 7)));
  });

  test('an unused slot shorter than its minimum length is mangled, as restore\'s DIRSIZ check says', () => {
      const b = Buffer.alloc(512);
      b.writeUInt32LE(2, 0); b.writeUInt16LE(12, 4); b[6] = 4; b[7] = 1; b.write('.', 8);
      b.writeUInt32LE(2, 12); b.writeUInt16LE(12, 16); b[18] = 4; b[19] = 2; b.write('..', 20);
      b.writeUInt32LE(0, 24); b.writeUInt16LE(8, 28); // ino 0, reclen 8 < DIRSIZ(namlen 0) = 12
      b.writeUInt32LE(99, 32); b.writeUInt16LE(480, 36); b[38] = 8; b[39] = 1; b.write('x', 40);
      const d = decodeDirectory(b, 512);
      assert.deepEqual(d.mangled, [24]);
      assert.deepEqual(d.entries.map((e) => Buffer.from(e.name).toString()), ['.', '..']);
  });

  test('only `size` bytes are read', () => {
    const d = decodeDirectory(good, 512);
    assert.deepEqual(plainEntries(d.entries), plainEntries(list.slice(0, 32)));
    assert.deepEqual(d.mangled, []);
    const bigger = decodeDirectory(good, 4096);
    assert.equal(bigger.entries.length, 42, 'a size beyond the data is clamped');
  });

  test('big-endian: d_ino and d_reclen swapped, type and namlen bytes not', () => {
    const be = Buffer.from(good);
    for (const r of records(good)) {
      be.writeUInt32BE(r.ino, r.off);
      be.writeUInt16BE(r.reclen, r.off + 4);
    }
    const d = decodeDirectory(be, be.length, false);
    assert.deepEqual(d.mangled, []);
    assert.deepEqual(plainEntries(d.entries), plainEntries(list));
    // Read as little-endian it is garbage.
    assert.notDeepEqual(plainEntries(decodeDirectory(be, be.length, true).entries), plainEntries(list));
  });

  test('old format: a 16-bit d_namlen in the dump\'s byte order, type unknown', () => {
    for (const le of [true, false]) {
      const b = Buffer.alloc(512);
      const put = (off: number, ino: number, reclen: number, name: string): void => {
        if (le) { b.writeUInt32LE(ino, off); b.writeUInt16LE(reclen, off + 4); b.writeUInt16LE(name.length, off + 6); }
        else { b.writeUInt32BE(ino, off); b.writeUInt16BE(reclen, off + 4); b.writeUInt16BE(name.length, off + 6); }
        b.write(name, off + 8);
      };
      put(0, 2, 12, '.');
      put(12, 2, 12, '..');
      put(24, 77, 488, 'old-name');
      const d = decodeDirectory(b, 512, le, true);
      assert.deepEqual(d.mangled, []);
      assert.deepEqual(d.entries.map((e) => [e.ino, e.type, Buffer.from(e.name).toString()]),
        [[2, 0, '.'], [2, 0, '..'], [77, 0, 'old-name']]);
    }
  });
});

describe('real directories of the sample images', () => {
  const img = readSample('level0.dump');
  const rootListing = readDecoded('level0.decoded').find((d) => d.block === 11)!.dirEntries!;
  // Root: TS_INODE at 9 (data 10), TS_ADDR at 11 (data 12); 1,536 bytes of entries.
  const rootData = Buffer.concat([img.subarray(10 * BLOCK, 11 * BLOCK), img.subarray(12 * BLOCK, 13 * BLOCK)]);

  test('the root of level0.dump decodes to the listing', () => {
    assert.equal(rootListing.length, 34);
    const d = decodeDirectory(rootData, 1536);
    assert.deepEqual(d.mangled, []);
    assert.deepEqual(d.entries.map((e) => [e.ino, e.type, Buffer.from(e.name).toString('utf8')]),
      rootListing.map((e) => [e.ino, DT[e.type], e.name]));
    assert.deepEqual(d.entries.map((e) => [e.offset, e.namlen]), rootListing.map((e) => [e.off, e.namlen]));
    const cafe = d.entries.find((e) => e.ino === 2014)!;
    assert.deepEqual(Buffer.from(cafe.name), Buffer.from('café-€.txt', 'utf8'));
    assert.equal(d.entries.find((e) => e.ino === 2024)!.name.length, 254);
  });

  test('re-encoding the root reproduces Linux dump\'s records (offsets, lengths, names)', () => {
    const d = decodeDirectory(rootData, 1536);
    const enc = encodeDirectory(d.entries);
    assert.equal(enc.length, 1536);
    const mine = records(enc);
    assert.deepEqual(mine.map((r) => [r.off, r.ino, r.reclen, r.namlen]), rootListing.map((e) => [e.off, e.ino, e.reclen, e.namlen]));
    for (const r of mine) {
      // Linux dump leaves stale bytes in the padding after the NUL; everything else is identical.
      assert.deepEqual(enc.subarray(r.off, r.off + 8 + r.namlen + 1), rootData.subarray(r.off, r.off + 8 + r.namlen + 1), `record at ${r.off}`);
    }
  });

  test('re-encoding bigdir (2,002 entries, 32 headers of one block) is byte-identical', () => {
    const parts: Buffer[] = [];
    for (let k = 0; k < 32; k++) parts.push(img.subarray((16 + 2 * k) * BLOCK, (17 + 2 * k) * BLOCK));
    const data = Buffer.concat(parts).subarray(0, 32256);
    const d = decodeDirectory(data, 32256);
    assert.deepEqual(d.mangled, []);
    assert.equal(d.entries.length, 2002);
    assert.deepEqual(encodeDirectory(d.entries), data);
  });

  test('quirks.dump: Linux dump\'s broken 255-byte name record (reclen 8) is read as restore reads it', () => {
    // restore's DIRSIZ wraps for namlen 255 (minimum 8), so the record passes its check: the entry
    // exists with d_namlen 255 but no name bytes inside the record, and the next record follows at 88.
    const q = readSample('quirks.dump');
    const d = decodeDirectory(q.subarray(6 * BLOCK, 7 * BLOCK), 512);
    assert.deepEqual(d.mangled, []);
    assert.deepEqual(d.entries.map((e) => [e.offset, e.ino, e.namlen, Buffer.from(e.name).toString()]), [
      [0, 2, 1, '.'], [12, 2, 2, '..'], [24, 11, 10, 'lost+found'], [44, 12, 7, 'chr_big'], [60, 13, 9, 'nanos.txt'],
      [80, 14, 255, ''], [88, 15, 9, 'y1960.txt'],
    ]);
  });

  test('synthetic-be.dump root decodes big-endian like synthetic-le.dump little-endian', () => {
    const le = readSample('synthetic-le.dump').subarray(6 * BLOCK, 7 * BLOCK);
    const be = readSample('synthetic-be.dump').subarray(6 * BLOCK, 7 * BLOCK);
    assert.notDeepEqual(le, be);
    const dl = decodeDirectory(le, 512, true);
    const db = decodeDirectory(be, 512, false);
    assert.deepEqual(db, dl);
    assert.deepEqual(dl.entries.map((e) => [e.ino, e.type, Buffer.from(e.name).toString()]),
      [[2, 4, '.'], [2, 4, '..'], [3, 4, 'dir'], [7, 10, 'link'], [8, 8, 'text.txt']]);
  });
});
