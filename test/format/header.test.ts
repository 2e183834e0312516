import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';

import { NFS_MAGIC, OFS_MAGIC, FS_UFS2_MAGIC } from '../../src/format/constants.js';
import {
  checksumOk, dataBlocksAfter, decodeHeader, detectByteOrder, emptyHeader, encodeHeader, headerWordSum, patchTapea,
  type DumpInode, type Header,
} from '../../src/format/header.js';
import {
  BLOCK, TYPE_NUMBERS, block, flagsFromText, readDecoded, readSample, toBigEndianHeader, walkImage, wordSum,
} from '../helpers/format-fixtures.js';

function encode(h: Header): Buffer {
  const buf = Buffer.alloc(BLOCK);
  encodeHeader(h, buf, 0);
  return buf;
}

/** A header where every field has a distinct, recognisable value. */
function distinctHeader(): Header {
  const h = emptyHeader();
  h.type = 2;
  h.date = 0x11223344;
  h.ddate = 0x01020304;
  h.volume = 3;
  h.tapea = 0xdeadbeef;
  h.inumber = 0xfedcba98;
  h.inode = {
    mode: 0o100644, nlink: 0x1234, ouid: 0xabcd, ogid: 0x1357, size: 2 ** 40 + 12345,
    atime: 0xf0000001, atimeUsec: 999999, mtime: 0x80000000, mtimeUsec: 123456, ctime: 0x7fffffff, ctimeUsec: 1,
    rdev: 0x12345678, flags: 0x80020, blocks: 0x07654321, gen: 0x02468ace, uid: 70000, gid: 0xfffffffe,
  };
  h.count = 300;
  for (let i = 0; i < 512; i++) h.addr[i] = (i * 7 + 1) & 0xff;
  h.label = 'my-label';
  h.level = 17;
  h.filesys = '/mnt/x (dir sub)';
  h.dev = '/dev/sdz9';
  h.host = 'host.example';
  h.flags = 0x8003;
  h.firstrec = 12345;
  h.ntrec = 64;
  h.extattributes = 3;
  for (let i = 0; i < 30; i++) h.spare[i] = 0x01010101 * (i + 1);
  return h;
}

/** Field-by-field comparison that copies the zero-copy addr view. */
function plain(h: Header): Record<string, unknown> {
  return { ...h, inode: { ...h.inode }, addr: Array.from(h.addr), spare: Array.from(h.spare) };
}

function cstring(buf: Buffer, off: number, size: number): { text: string; padding: number[] } {
  const end = buf.indexOf(0, off);
  const stop = end < 0 || end > off + size ? off + size : end;
  return { text: buf.toString('utf8', off, stop), padding: Array.from(buf.subarray(stop, off + size)) };
}

describe('encodeHeader: every field at its documented offset (§1.3, §1.3.1)', () => {
  const h = distinctHeader();
  const buf = encode(h);

  test('leading int32 fields 0..28', () => {
    assert.equal(buf.readInt32LE(0), 2);
    assert.equal(buf.readInt32LE(4), 0x11223344);
    assert.equal(buf.readInt32LE(8), 0x01020304);
    assert.equal(buf.readInt32LE(12), 3);
    assert.equal(buf.readUInt32LE(16), 0xdeadbeef);
    assert.equal(buf.readUInt32LE(20), 0xfedcba98);
    assert.equal(buf.readInt32LE(24), 60012);
  });

  test('embedded inode 32..160', () => {
    assert.equal(buf.readUInt16LE(32), 0o100644);
    assert.equal(buf.readUInt16LE(34), 0x1234);
    assert.equal(buf.readUInt16LE(36), 0xabcd);
    assert.equal(buf.readUInt16LE(38), 0x1357);
    assert.equal(buf.readBigUInt64LE(40), 2n ** 40n + 12345n);
    assert.equal(buf.readUInt32LE(48), 0xf0000001);
    assert.equal(buf.readUInt32LE(52), 999999);
    assert.equal(buf.readUInt32LE(56), 0x80000000);
    assert.equal(buf.readUInt32LE(60), 123456);
    assert.equal(buf.readUInt32LE(64), 0x7fffffff);
    assert.equal(buf.readUInt32LE(68), 1);
    assert.equal(buf.readUInt32LE(72), 0x12345678, 'di_rdev = di_db[0]');
    assert.deepEqual(Array.from(buf.subarray(76, 132)), new Array(56).fill(0), 'di_db[1..11], di_ib[0..2] zero');
    assert.equal(buf.readUInt32LE(132), 0x80020);
    assert.equal(buf.readInt32LE(136), 0x07654321);
    assert.equal(buf.readInt32LE(140), 0x02468ace);
    assert.equal(buf.readUInt32LE(144), 70000);
    assert.equal(buf.readUInt32LE(148), 0xfffffffe);
    assert.deepEqual(Array.from(buf.subarray(152, 160)), new Array(8).fill(0), 'di_spare zero');
  });

  test('c_count, c_addr', () => {
    assert.equal(buf.readInt32LE(160), 300);
    for (let i = 0; i < 512; i++) assert.equal(buf[164 + i], (i * 7 + 1) & 0xff, `c_addr[${i}]`);
  });

  test('strings and trailing fields 676..1024', () => {
    assert.deepEqual(cstring(buf, 676, 16), { text: 'my-label', padding: new Array(8).fill(0) });
    assert.equal(buf.readInt32LE(692), 17);
    assert.deepEqual(cstring(buf, 696, 64), { text: '/mnt/x (dir sub)', padding: new Array(48).fill(0) });
    assert.deepEqual(cstring(buf, 760, 64), { text: '/dev/sdz9', padding: new Array(55).fill(0) });
    assert.deepEqual(cstring(buf, 824, 64), { text: 'host.example', padding: new Array(52).fill(0) });
    assert.equal(buf.readInt32LE(888), 0x8003);
    assert.equal(buf.readInt32LE(892), 12345);
    assert.equal(buf.readInt32LE(896), 64);
    assert.equal(buf.readInt32LE(900), 3);
    for (let i = 0; i < 30; i++) assert.equal(buf.readUInt32LE(904 + 4 * i), (0x01010101 * (i + 1)) >>> 0, `c_spare[${i}]`);
  });

  test('checksum makes the 256-word sum 84446', () => {
    assert.equal(wordSum(buf, 0, true), 84446);
    assert.equal(headerWordSum(buf, 0, true), 84446);
    assert.equal(checksumOk(buf, 0, 'le'), true);
  });

  test('decodeHeader gives every field back', () => {
    const d = decodeHeader(buf, 0, 'le');
    const expected = plain(h);
    expected['checksum'] = buf.readInt32LE(28);
    assert.deepEqual(plain(d), expected);
  });

  test('writes only its 1,024 bytes at a non-zero offset, and overwrites stale content there', () => {
    const big = Buffer.alloc(3 * BLOCK, 0xaa);
    encodeHeader(h, big, BLOCK);
    assert.ok(big.subarray(0, BLOCK).every((b) => b === 0xaa));
    assert.ok(big.subarray(2 * BLOCK).every((b) => b === 0xaa));
    assert.deepEqual(big.subarray(BLOCK, 2 * BLOCK), buf);
    const d = decodeHeader(big, BLOCK, 'le');
    assert.equal(d.host, 'host.example');
    assert.equal(checksumOk(big, BLOCK, 'le'), true);
  });
});

describe('strings are NUL-padded and truncated to size-1 bytes', () => {
  test('label of 20 characters keeps 15 and a NUL', () => {
    const h = emptyHeader();
    h.label = 'ABCDEFGHIJKLMNOPQRST';
    h.filesys = 'f'.repeat(100);
    h.dev = 'd'.repeat(64);
    h.host = 'h'.repeat(63);
    const buf = encode(h);
    assert.equal(buf.toString('latin1', 676, 692), 'ABCDEFGHIJKLMNO\0');
    assert.equal(buf.toString('latin1', 696, 760), 'f'.repeat(63) + '\0');
    assert.equal(buf.toString('latin1', 760, 824), 'd'.repeat(63) + '\0');
    assert.equal(buf.toString('latin1', 824, 888), 'h'.repeat(63) + '\0');
    assert.equal(buf.readInt32LE(692), 0, 'the level after the label is untouched by the long label');
    const d = decodeHeader(buf, 0, 'le');
    assert.equal(d.label, 'ABCDEFGHIJKLMNO');
    assert.equal(d.filesys, 'f'.repeat(63));
    assert.equal(d.host, 'h'.repeat(63));
  });

  test('15 characters exactly fit; an empty string is all NUL', () => {
    const h = emptyHeader();
    h.label = '123456789012345';
    const buf = encode(h);
    assert.equal(buf.toString('latin1', 676, 692), '123456789012345\0');
    assert.ok(buf.subarray(696, 888).every((b) => b === 0));
    assert.equal(decodeHeader(buf, 0, 'le').label, '123456789012345');
  });

  test('decoding a field without any NUL (foreign writer) stops at the field end', () => {
    const buf = encode(emptyHeader());
    buf.write('0123456789ABCDEF', 676, 'latin1'); // all 16 label bytes used
    buf.write('é'.repeat(32), 696, 'utf8'); // 64 bytes of UTF-8, no NUL
    const d = decodeHeader(buf, 0, 'le');
    assert.equal(d.label, '0123456789ABCDEF');
    assert.equal(d.level, 0);
    assert.equal(d.filesys, 'é'.repeat(32));
    assert.equal(d.dev, '');
  });

  test('UTF-8 text is stored as bytes', () => {
    const h = emptyHeader();
    h.host = 'hôte-€';
    const buf = encode(h);
    assert.deepEqual(buf.subarray(824, 824 + 10), Buffer.from('hôte-€\0', 'utf8'));
    assert.equal(decodeHeader(buf, 0, 'le').host, 'hôte-€');
  });
});

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const ascii = (max: number) => fc.string({ unit: 'grapheme-ascii', maxLength: max });

const arbInode: fc.Arbitrary<DumpInode> = fc.record({
  mode: u16, nlink: fc.integer({ min: 0, max: 0x7fff }), ouid: u16, ogid: u16,
  size: fc.maxSafeNat(), atime: u32, atimeUsec: u32, mtime: u32, mtimeUsec: u32, ctime: u32, ctimeUsec: u32,
  rdev: u32, flags: u32, blocks: i32, gen: i32, uid: u32, gid: u32,
});

const arbHeader: fc.Arbitrary<Header> = fc.record({
  type: fc.integer({ min: 1, max: 6 }), date: i32, ddate: i32, volume: i32, tapea: u32, inumber: u32,
  inode: arbInode, count: i32, addr: fc.uint8Array({ minLength: 512, maxLength: 512 }),
  label: ascii(15), level: i32, filesys: ascii(63), dev: ascii(63), host: ascii(63),
  flags: i32, firstrec: i32, ntrec: i32, extattributes: i32,
  spare: fc.array(u32, { minLength: 30, maxLength: 30 }),
}).map((r) => ({ ...r, magic: NFS_MAGIC, checksum: 0, spare: Uint32Array.from(r.spare) }));

describe('property: encode/decode round trip', () => {
  test('every field survives, the checksum is valid', () => {
    fc.assert(fc.property(arbHeader, (h) => {
      const buf = encode(h);
      assert.equal(wordSum(buf, 0, true), 84446);
      assert.equal(checksumOk(buf, 0, 'le'), true);
      assert.equal(detectByteOrder(buf), 'le');
      const d = decodeHeader(buf, 0, 'le');
      assert.deepEqual(plain(d), { ...plain(h), checksum: buf.readInt32LE(28) });
    }), { numRuns: 200 });
  });
});

describe('patchTapea', () => {
  test('property: the checksum stays valid and the result equals a fresh encoding', () => {
    fc.assert(fc.property(arbHeader, u32, (h, tapea) => {
      const buf = encode(h);
      const before = Buffer.from(buf);
      patchTapea(buf, 0, tapea);
      assert.equal(buf.readUInt32LE(16), tapea);
      assert.equal(wordSum(buf, 0, true), 84446);
      for (let i = 0; i < BLOCK; i++) {
        if ((i >= 16 && i < 20) || (i >= 28 && i < 32)) continue;
        if (buf[i] !== before[i]) assert.fail(`byte ${i} changed`);
      }
      assert.deepEqual(buf, encode({ ...h, tapea }));
    }), { numRuns: 200 });
  });

  test('patches a header in the middle of a larger buffer', () => {
    const big = Buffer.alloc(4 * BLOCK, 0x55);
    encodeHeader(distinctHeader(), big, 2 * BLOCK);
    patchTapea(big, 2 * BLOCK, 4_000_000_000);
    assert.equal(big.readUInt32LE(2 * BLOCK + 16), 4_000_000_000);
    assert.equal(wordSum(big, 2 * BLOCK, true), 84446);
    assert.ok(big.subarray(0, 2 * BLOCK).every((b) => b === 0x55));
    assert.ok(big.subarray(3 * BLOCK).every((b) => b === 0x55));
  });

  test('repeated patches (up and down) keep it valid', () => {
    const buf = encode(distinctHeader());
    for (const t of [0, 0xffffffff, 1, 0x80000000, 7, 0]) {
      patchTapea(buf, 0, t);
      assert.equal(wordSum(buf, 0, true), 84446, `after tapea ${t}`);
      assert.equal(decodeHeader(buf, 0, 'le').tapea, t);
    }
  });
});

describe('checksumOk detects any single-byte change', () => {
  test('property: flipping bits of one byte invalidates the header', () => {
    const base = encode(distinctHeader());
    fc.assert(fc.property(fc.integer({ min: 0, max: BLOCK - 1 }), fc.integer({ min: 1, max: 255 }), (pos, mask) => {
      const buf = Buffer.from(base);
      buf[pos]! ^= mask;
      assert.equal(checksumOk(buf, 0, 'le'), false);
    }), { numRuns: 300 });
  });

  test('property: random headers, random byte replaced', () => {
    fc.assert(fc.property(arbHeader, fc.integer({ min: 0, max: BLOCK - 1 }), fc.integer({ min: 0, max: 255 }), (h, pos, v) => {
      const buf = encode(h);
      fc.pre(buf[pos] !== v);
      buf[pos] = v;
      assert.equal(checksumOk(buf, 0, 'le'), false);
    }), { numRuns: 100 });
  });
});

describe('byte order', () => {
  test('a big-endian header (swapped per §1.6) decodes to the same fields', () => {
    const h = distinctHeader();
    h.spare.fill(0); // Linux restore does not swap c_spare; a big-endian dump has them zero
    const le = encode(h);
    const be = toBigEndianHeader(le);
    assert.notDeepEqual(be, le);
    assert.equal(detectByteOrder(be), 'be');
    assert.equal(checksumOk(be, 0, 'be'), true);
    assert.equal(checksumOk(be, 0, 'le'), false);
    assert.equal(headerWordSum(be, 0, false), 84446);
    const d = decodeHeader(be, 0, 'be');
    assert.deepEqual(plain(d), { ...plain(h), checksum: be.readInt32BE(28) });
  });

  test('property: big-endian conversion of random headers decodes identically', () => {
    fc.assert(fc.property(arbHeader, (h) => {
      h.spare.fill(0);
      const be = toBigEndianHeader(encode(h));
      assert.equal(checksumOk(be, 0, 'be'), true);
      assert.equal(detectByteOrder(be), 'be');
      assert.deepEqual(plain(decodeHeader(be, 0, 'be')), { ...plain(h), checksum: be.readInt32BE(28) });
    }), { numRuns: 100 });
  });

  test('synthetic-be.dump decodes to the same headers as synthetic-le.dump', () => {
    const le = readSample('synthetic-le.dump');
    const be = readSample('synthetic-be.dump');
    const list = readDecoded('synthetic-le.decoded');
    assert.equal(list.length, 15);
    for (const { block: b } of list) {
      assert.equal(detectByteOrder(be, b * BLOCK), 'be', `block ${b}`);
      assert.equal(detectByteOrder(le, b * BLOCK), 'le', `block ${b}`);
      assert.equal(checksumOk(be, b * BLOCK, 'be'), true);
      assert.equal(checksumOk(le, b * BLOCK, 'le'), true);
      const dl = plain(decodeHeader(le, b * BLOCK, 'le'));
      const db = plain(decodeHeader(be, b * BLOCK, 'be'));
      delete dl['checksum'];
      delete db['checksum'];
      assert.deepEqual(db, dl, `block ${b}`);
    }
  });

  test('detectByteOrder: little, big, garbage', () => {
    assert.equal(detectByteOrder(encode(emptyHeader())), 'le');
    const be = Buffer.alloc(BLOCK);
    be.writeInt32BE(NFS_MAGIC, 24);
    assert.equal(detectByteOrder(be), 'be');
    assert.equal(detectByteOrder(Buffer.alloc(BLOCK)), null);
    const other = Buffer.alloc(BLOCK);
    for (const m of [OFS_MAGIC, FS_UFS2_MAGIC, NFS_MAGIC + 1]) {
      other.writeInt32LE(m, 24);
      assert.equal(detectByteOrder(other), null, `magic ${m}`);
    }
    // At an offset inside a larger buffer.
    const big = Buffer.alloc(3 * BLOCK);
    big.writeInt32BE(NFS_MAGIC, BLOCK + 24);
    assert.equal(detectByteOrder(big, 0), null);
    assert.equal(detectByteOrder(big, BLOCK), 'be');
    assert.equal(detectByteOrder(readSample('level0.dump'), 0), 'le');
  });

  test('property: random blocks without the magic are no header', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: BLOCK, maxLength: BLOCK }), (bytes) => {
      const b = Buffer.from(bytes);
      fc.pre(b.readInt32LE(24) !== NFS_MAGIC && b.readInt32BE(24) !== NFS_MAGIC);
      assert.equal(detectByteOrder(b), null);
    }), { numRuns: 200 });
  });
});

describe('the real level0.dump', () => {
  const img = readSample('level0.dump');
  const decoded = readDecoded('level0.decoded');

  test('TS_TAPE at block 0', () => {
    const h = decodeHeader(img, 0, 'le');
    assert.equal(checksumOk(img, 0, 'le'), true);
    assert.equal(h.type, 1);
    assert.equal(h.magic, 60012);
    assert.equal(h.date, 1795311507);
    assert.equal(h.ddate, 0);
    assert.equal(h.volume, 1);
    assert.equal(h.tapea, 0);
    assert.equal(h.inumber, 0);
    assert.equal(h.count, 1);
    assert.equal(h.level, 0);
    assert.equal(h.label, 'level0-label');
    assert.equal(h.filesys, 'an unlisted file system');
    assert.equal(h.dev, '/dev/loop1');
    assert.equal(h.host, 'vm');
    assert.equal(h.flags, 3);
    assert.equal(h.firstrec, 0);
    assert.equal(h.ntrec, 10);
    assert.equal(dataBlocksAfter(h), 0);
  });

  test('TS_CLRI at block 1 with 3 map blocks, TS_BITS at block 5', () => {
    const c = decodeHeader(img, 1 * BLOCK, 'le');
    assert.equal(c.type, 6);
    assert.equal(c.count, 3);
    assert.equal(c.inumber, 16384);
    assert.equal(c.tapea, 1);
    assert.equal(c.inode.size, 3072);
    assert.equal(dataBlocksAfter(c), 3);
    const b = decodeHeader(img, 5 * BLOCK, 'le');
    assert.equal(b.type, 3);
    assert.equal(b.count, 3);
    assert.equal(b.inumber, 2);
    assert.equal(b.tapea, 5);
    assert.equal(dataBlocksAfter(b), 3);
  });

  test('TS_INODE of the root at block 9', () => {
    const h = decodeHeader(img, 9 * BLOCK, 'le');
    assert.equal(h.type, 2);
    assert.equal(h.inumber, 2);
    assert.equal(h.tapea, 9);
    assert.equal(h.count, 1);
    assert.equal(h.addr[0], 1);
    assert.equal(h.inode.mode, 0o40755);
    assert.equal(h.inode.nlink, 7);
    assert.equal(h.inode.size, 1536);
    assert.equal(h.inode.blocks, 2);
    assert.equal(h.inode.flags, 0x80000);
    assert.equal(h.inode.atime, 1795311504);
    assert.equal(h.inode.mtime, 1795311505);
    assert.equal(h.inode.ctime, 1795311505);
    assert.equal(h.inode.atimeUsec, 0);
    assert.equal(h.flags, 2);
    assert.equal(dataBlocksAfter(h), 1);
    // di_db is a raw ext4 i_block copy: an extent-mapped inode starts with the extent magic.
    assert.equal(img.readUInt32LE(9 * BLOCK + 72), 0x0001f30a);
  });

  test('every header of level0.decoded matches decodeHeader (type, inode, fields)', () => {
    assert.equal(decoded.length, 2139);
    for (const d of decoded) {
      const off = d.block * BLOCK;
      assert.equal(checksumOk(img, off, 'le'), true, `checksum at block ${d.block}`);
      const h = decodeHeader(img, off, 'le');
      const where = `block ${d.block}`;
      assert.equal(h.type, TYPE_NUMBERS[d.type], where);
      assert.equal(h.inumber, d.ino, where);
      assert.equal(h.count, d.count, where);
      assert.equal(h.tapea, d.tapea, where);
      assert.equal(h.volume, d.vol, where);
      assert.equal(h.flags, flagsFromText(d.flags), where);
      if (d.ext) assert.equal(h.extattributes, d.ext === 'XATTR' ? 3 : Number(d.ext), where);
      const f = d.fields;
      if (d.kind) {
        assert.equal((h.inode.mode & 0o7777).toString(8), f['mode']!.replace(/^0/, '') || '0', where);
        assert.equal(h.inode.nlink, Number(f['nlink']), where);
        assert.equal(h.inode.uid, Number(f['uid']), where);
        assert.equal(h.inode.gid, Number(f['gid']), where);
        assert.equal(h.inode.size, Number(f['size']), where);
        assert.equal(h.inode.blocks, Number(f['blocks']), where);
        assert.equal(h.inode.gen, Number(f['gen']), where);
        assert.equal(h.inode.flags, Number(f['di_flags']), where);
        assert.equal(`${h.inode.atime}.${String(h.inode.atimeUsec).padStart(6, '0')}`, f['atime'], where);
        assert.equal(`${h.inode.mtime}.${String(h.inode.mtimeUsec).padStart(6, '0')}`, f['mtime'], where);
        assert.equal(`${h.inode.ctime}.${String(h.inode.ctimeUsec).padStart(6, '0')}`, f['ctime'], where);
        assert.equal(h.inode.ouid, Number(f['ouid']), where);
        assert.equal(h.inode.ogid, Number(f['ogid']), where);
        if (f['rdev']) assert.equal(h.inode.rdev, Number(f['rdev']), where);
      }
      if (d.type === 'TS_TAPE') {
        assert.equal(h.label, f['label'], where);
        assert.equal(h.ntrec, Number(f['ntrec']), where);
      }
    }
  });

  test('owner_big.txt: 32-bit uid/gid and their low 16 bits', () => {
    const d = decoded.find((x) => x.ino === 2039 && x.type === 'TS_INODE')!;
    const h = decodeHeader(img, d.block * BLOCK, 'le');
    assert.equal(h.inode.uid, 70000);
    assert.equal(h.inode.gid, 70001);
    assert.equal(h.inode.ouid, 70000 & 0xffff);
    assert.equal(h.inode.ogid, 70001 & 0xffff);
  });
});

describe('dataBlocksAfter', () => {
  const addr = (bits: number[]): Uint8Array => {
    const a = new Uint8Array(512);
    bits.forEach((b, i) => { a[i] = b; });
    return a;
  };
  const ones = new Uint8Array(512).fill(1);

  test('TS_TAPE and TS_END: none, whatever c_count/c_addr hold', () => {
    assert.equal(dataBlocksAfter({ type: 1, count: 1, addr: ones, flags: 3 }), 0);
    assert.equal(dataBlocksAfter({ type: 5, count: 37, addr: ones, flags: 2 }), 0);
  });

  test('TS_CLRI and TS_BITS: c_count blocks even when c_addr is zero, also beyond 512', () => {
    const zero = new Uint8Array(512);
    assert.equal(dataBlocksAfter({ type: 6, count: 3, addr: zero, flags: 2 }), 3);
    assert.equal(dataBlocksAfter({ type: 3, count: 1, addr: zero, flags: 2 }), 1);
    assert.equal(dataBlocksAfter({ type: 6, count: 700, addr: zero, flags: 2 }), 700);
    assert.equal(dataBlocksAfter({ type: 3, count: 0, addr: ones, flags: 2 }), 0);
  });

  test('TS_INODE / TS_ADDR: one block per present entry, holes need none', () => {
    assert.equal(dataBlocksAfter({ type: 2, count: 0, addr: ones, flags: 2 }), 0);
    assert.equal(dataBlocksAfter({ type: 2, count: 5, addr: addr([1, 0, 1, 0, 1]), flags: 2 }), 3);
    assert.equal(dataBlocksAfter({ type: 4, count: 5, addr: addr([0, 0, 0, 0, 0]), flags: 2 }), 0);
    assert.equal(dataBlocksAfter({ type: 4, count: 4, addr: addr([7, 255, 0, 2]), flags: 2 }), 3);
    // Entries beyond c_count do not count.
    assert.equal(dataBlocksAfter({ type: 2, count: 2, addr: addr([1, 1, 1, 1]), flags: 2 }), 2);
    // c_count is at most 512 for these types.
    assert.equal(dataBlocksAfter({ type: 2, count: 600, addr: ones, flags: 2 }), 512);
    assert.equal(dataBlocksAfter({ type: 2, count: -4, addr: ones, flags: 2 }), 0);
  });

  test('EA records (DR_EXTATTRIBUTES) are read whole regardless of c_addr', () => {
    assert.equal(dataBlocksAfter({ type: 2, count: 4, addr: addr([0, 0, 0, 0]), flags: 0x8002 }), 4);
    assert.equal(dataBlocksAfter({ type: 2, count: 1, addr: addr([1]), flags: 0x8002 }), 1);
  });

  test('unknown types carry nothing', () => {
    assert.equal(dataBlocksAfter({ type: 7, count: 9, addr: ones, flags: 2 }), 0);
    assert.equal(dataBlocksAfter({ type: 0, count: 9, addr: ones, flags: 2 }), 0);
  });

  for (const name of ['level0', 'level1', 'mini-4k', 'mini-b64', 'quirks', 'synthetic-le']) {
    test(`walking ${name}.dump with decodeHeader + dataBlocksAfter finds exactly the headers of ${name}.decoded`, () => {
      const img = readSample(`${name}.dump`);
      const expected = readDecoded(`${name}.decoded`).map((d) => d.block);
      const found: number[] = [];
      let b = 0;
      while (b * BLOCK < img.length) {
        assert.equal(checksumOk(img, b * BLOCK, 'le'), true, `block ${b} should be a header`);
        const h = decodeHeader(img, b * BLOCK, 'le');
        found.push(b);
        b += 1 + dataBlocksAfter(h);
      }
      assert.deepEqual(found, expected);
      // And the independent walker agrees up to the first TS_END.
      const raw = walkImage(img).map((r) => r.block);
      assert.deepEqual(raw, expected.slice(0, raw.length));
    });
  }

  test('walking synthetic-be.dump in big-endian finds the same headers', () => {
    const img = readSample('synthetic-be.dump');
    const expected = readDecoded('synthetic-be.decoded').map((d) => d.block);
    const found: number[] = [];
    for (let b = 0; b * BLOCK < img.length;) {
      assert.equal(checksumOk(img, b * BLOCK, 'be'), true);
      found.push(b);
      b += 1 + dataBlocksAfter(decodeHeader(img, b * BLOCK, 'be'));
    }
    assert.deepEqual(found, expected);
  });

  test('sample blocks are headers only where the listing says so', () => {
    const img = readSample('synthetic-le.dump');
    const headers = new Set(readDecoded('synthetic-le.decoded').map((d) => d.block));
    for (let b = 0; b * BLOCK < img.length; b++) {
      const isHeader = detectByteOrder(block(img, b)) !== null && checksumOk(img, b * BLOCK, 'le');
      assert.equal(isHeader, headers.has(b), `block ${b}`);
    }
  });
});

test('label, file system, device and host decode right when they change between headers (the per-field cache)', () => {
  const texts = fc.constantFrom('', 'host', 'hos', 'host2', 'hôte-ü', '/dev/sda1', 'x'.repeat(63), '/srv/a b');
  fc.assert(fc.property(fc.array(fc.tuple(texts, texts, texts, fc.constantFrom('', 'label', 'labe', 'lâbel', 'l'.repeat(15))), { minLength: 1, maxLength: 12 }), (seq) => {
    for (const [host, filesys, dev, label] of seq) {
      const h = emptyHeader();
      Object.assign(h, { host, filesys, dev, label });
      const d = decodeHeader(encode(h), 0, 'le');
      assert.deepEqual([d.host, d.filesys, d.dev, d.label], [host, filesys, dev, label]);
    }
  }));
});
