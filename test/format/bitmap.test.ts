import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';

import { InodeMap, mapSizeFor } from '../../src/format/bitmap.js';
import { BLOCK, readDecoded, readSample } from '../helpers/format-fixtures.js';

/** Independent bit rule of §2.2: inode n is bit (n-1)%8 of byte (n-1)/8. */
function bitSet(buf: Uint8Array, ino: number): boolean {
  return ((buf[Math.floor((ino - 1) / 8)] ?? 0) >> ((ino - 1) % 8) & 1) === 1;
}

describe('InodeMap basics', () => {
  test('set / has / max', () => {
    const m = new InodeMap(64);
    assert.equal(m.max, 0);
    assert.deepEqual([...m.inodes()], []);
    for (const i of [5, 2, 64, 9]) m.set(i);
    for (const i of [2, 5, 9, 64]) assert.equal(m.has(i), true, `has ${i}`);
    for (const i of [1, 3, 4, 6, 7, 8, 10, 63, 65, 1000]) assert.equal(m.has(i), false, `has ${i}`);
    assert.equal(m.max, 64);
    m.set(3);
    assert.equal(m.max, 64, 'a lower inode does not lower max');
    m.set(2);
    assert.deepEqual([...m.inodes()], [2, 3, 5, 9, 64]);
  });

  test('inode 0 and negatives cannot be set and are never present', () => {
    const m = new InodeMap();
    assert.throws(() => m.set(0), RangeError);
    assert.throws(() => m.set(-3), RangeError);
    assert.equal(m.has(0), false);
    assert.equal(m.has(-1), false);
    assert.equal(m.max, 0);
  });

  test('grows beyond its initial size and keeps earlier bits', () => {
    const m = new InodeMap(8);
    m.set(1);
    m.set(8);
    m.set(100_000);
    m.set(17);
    m.set(4_194_305);
    assert.equal(m.has(1), true);
    assert.equal(m.has(8), true);
    assert.equal(m.has(17), true);
    assert.equal(m.has(100_000), true);
    assert.equal(m.has(4_194_305), true);
    assert.equal(m.has(99_999), false);
    assert.equal(m.max, 4_194_305);
    assert.deepEqual([...m.inodes()], [1, 8, 17, 100_000, 4_194_305]);
    const buf = m.toBuffer(mapSizeFor(4_194_306));
    assert.equal(buf.length, 513 * BLOCK);
    assert.equal(buf[(100_000 - 1) >> 3], 1 << ((100_000 - 1) & 7));
    assert.equal(buf[524_288], 0x01, 'inode 4194305 is bit 0 of byte 524288');
  });

  test('a zero-size map grows too', () => {
    const m = new InodeMap(0);
    assert.equal(m.has(1), false);
    m.set(3);
    assert.equal(m.has(3), true);
    assert.deepEqual([...m.inodes()], [3]);
  });
});

describe('toBuffer bit layout (§2.2)', () => {
  test('hand-computed bytes', () => {
    const m = new InodeMap(32);
    for (const i of [1, 8, 9, 16, 2, 7, 11, 12]) m.set(i);
    const buf = m.toBuffer(1024);
    assert.equal(buf.length, 1024);
    assert.equal(buf[0], 0b1100_0011); // 1, 2, 7, 8
    assert.equal(buf[1], 0b1000_1101); // 9, 11, 12, 16
    assert.ok(buf.subarray(2).every((b) => b === 0));
  });

  test('property: bit n-1 is set exactly for the inodes set', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 20_000 }), { maxLength: 200 }), fc.integer({ min: 1, max: 64 }), (inos, initial) => {
      const m = new InodeMap(initial);
      for (const i of inos) m.set(i);
      const size = mapSizeFor(20_001);
      const buf = m.toBuffer(size);
      assert.equal(buf.length, size);
      const want = new Set(inos);
      for (let n = 1; n <= size * 8; n++) {
        if (bitSet(buf, n) !== want.has(n)) assert.fail(`inode ${n}`);
      }
      assert.deepEqual([...m.inodes()], [...want].sort((a, b) => a - b));
      assert.equal(m.max, inos.length ? Math.max(...inos) : 0);
      const back = InodeMap.fromBytes(buf);
      assert.deepEqual([...back.inodes()], [...m.inodes()]);
      assert.equal(back.max, m.max);
    }), { numRuns: 100 });
  });

  test('toBuffer pads with zeros and returns a copy', () => {
    const m = new InodeMap(8);
    m.set(3);
    const a = m.toBuffer(2048);
    assert.equal(a.length, 2048);
    a[0] = 0xff;
    assert.equal(m.has(1), false, 'changing the buffer does not change the map');
    assert.equal(m.toBuffer(1024)[0], 0b100);
  });
});

describe('InodeMap.fromBytes', () => {
  test('max comes from the highest set bit', () => {
    assert.equal(InodeMap.fromBytes(new Uint8Array(16)).max, 0);
    assert.equal(InodeMap.fromBytes(Uint8Array.from([1])).max, 1);
    assert.equal(InodeMap.fromBytes(Uint8Array.from([0x80])).max, 8);
    assert.equal(InodeMap.fromBytes(Uint8Array.from([0xff, 0x01, 0])).max, 9);
    assert.equal(InodeMap.fromBytes(Uint8Array.from([0, 0, 0x40, 0])).max, 23);
  });

  test('the map keeps working (grows) after fromBytes', () => {
    const m = InodeMap.fromBytes(Uint8Array.from([0b10]));
    m.set(50);
    assert.deepEqual([...m.inodes()], [2, 50]);
    assert.equal(m.max, 50);
  });
});

describe('mapSizeFor (Linux: roundup(ceil(maxino/8), 1024))', () => {
  test('values', () => {
    assert.equal(mapSizeFor(0), 1024);
    assert.equal(mapSizeFor(1), 1024);
    assert.equal(mapSizeFor(9), 1024);
    assert.equal(mapSizeFor(8192), 1024);
    assert.equal(mapSizeFor(8193), 2048);
    assert.equal(mapSizeFor(16384), 2048);
    assert.equal(mapSizeFor(16385), 3072, 'level0: 16,384 inodes → 3 map blocks');
    assert.equal(mapSizeFor(2049), 1024, 'quirks: 2,048 inodes → 1 map block');
    assert.equal(mapSizeFor(4_194_304), 512 * 1024);
    assert.equal(mapSizeFor(4_194_305), 513 * 1024);
  });

  test('property: smallest multiple of 1 KiB holding maxino bits', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 50_000_000 }), (maxino) => {
      const s = mapSizeFor(maxino);
      assert.equal(s % 1024, 0);
      assert.ok(s * 8 >= maxino);
      assert.ok(s === 1024 || (s - 1024) * 8 < maxino);
    }));
  });
});

describe('against the maps of the real level0.dump', () => {
  const img = readSample('level0.dump');
  const decoded = readDecoded('level0.decoded');

  for (const [type, blk] of [['TS_CLRI', 1], ['TS_BITS', 5]] as const) {
    test(`${type} map (block ${blk + 1}..${blk + 3})`, () => {
      const d = decoded.find((x) => x.block === blk)!;
      assert.equal(d.type, type);
      const expected = d.mapInodes!;
      assert.ok(expected.length > 2000);
      const raw = img.subarray((blk + 1) * BLOCK, (blk + 4) * BLOCK);

      const read = InodeMap.fromBytes(raw);
      assert.deepEqual([...read.inodes()], expected);
      assert.equal(read.max, 2049);

      const built = new InodeMap(16);
      for (const i of [...expected].reverse()) built.set(i);
      assert.deepEqual(built.toBuffer(mapSizeFor(16385)), Buffer.from(raw));
    });
  }

  test('TS_CLRI sets the allocated reserved inodes 7 and 8 but not 1, 3..6', () => {
    const m = InodeMap.fromBytes(img.subarray(2 * BLOCK, 5 * BLOCK));
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((i) => m.has(i)),
      [false, true, false, false, false, false, true, true, false, false, true]);
  });
});
