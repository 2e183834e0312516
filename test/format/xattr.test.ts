import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';

import {
  aclFromDisk, aclToDisk, decodeXattrs, EA_MAGIC_BLOCK, EA_MAGIC_INODE, EA_MAX_BLOB, EA_PADDING_BLOCK, encodeXattrs, splitName, type Xattr,
} from '../../src/format/xattr.js';
import { BLOCK, readDecoded, readSample, walkImage } from '../helpers/format-fixtures.js';

/** Kernel xattr form of an ACL: u32 version 2, then {u16 tag, u16 perm, u32 id} entries. */
function kernelAcl(entries: Array<[tag: number, perm: number, id?: number]>): Buffer {
  const b = Buffer.alloc(4 + 8 * entries.length);
  b.writeUInt32LE(2, 0);
  entries.forEach(([tag, perm, id], i) => {
    b.writeUInt16LE(tag, 4 + 8 * i);
    b.writeUInt16LE(perm, 6 + 8 * i);
    b.writeUInt32LE(id ?? 0xffffffff, 8 + 8 * i);
  });
  return b;
}

// user::rw-, user:1000:rw-, group::r--, group:100:r--, mask::rw-, other::r--
const KNOWN_KERNEL = kernelAcl([[0x01, 6], [0x02, 6, 1000], [0x04, 4], [0x08, 4, 100], [0x10, 6], [0x20, 4]]);
// ext4 compact form, as stored for acl.txt in level0.dump.
const KNOWN_DISK = Buffer.from('010000000100060002000600e80300000400040008000400640000001000060020000400', 'hex');

function plain(list: readonly Xattr[]): Array<[string, string]> {
  return list.map((a) => [a.name, a.value.toString('hex')]);
}

/** Independent cost of one entry in a block: 16-byte head + name, padded; value padded. */
const cost = (suffix: number, value: number): number => 4 * Math.ceil((16 + suffix) / 4) + 4 * Math.ceil(value / 4);

/** Independent walk of a block-form blob: entries, alignment, value regions in bounds and disjoint. */
function checkLayout(b: Buffer): void {
  let pos = 32;
  const regions: Array<[number, number]> = [];
  while (b.readUInt32LE(pos) !== 0) {
    const nameLen = b[pos]!;
    const off = b.readUInt16LE(pos + 2);
    const size = b.readUInt32LE(pos + 8);
    assert.equal(b.readUInt32LE(pos + 4), 0, 'e_value_inum 0');
    assert.equal(off % 4, 0, 'value 4-byte aligned');
    regions.push([off, off + size]);
    pos += 4 * Math.ceil((16 + nameLen) / 4);
  }
  const listEnd = pos + 4;
  regions.sort((x, y) => x[0] - y[0]);
  let prev = listEnd;
  for (const [start, end] of regions) {
    assert.ok(start >= prev, `value at ${start} overlaps (previous ends at ${prev})`);
    assert.ok(end <= b.length);
    prev = end;
  }
}

describe('splitName', () => {
  test('prefixes and indexes (§6.2)', () => {
    const s = (n: string) => { const r = splitName(n); return r && [r.index, r.suffix.toString()]; };
    assert.deepEqual(s('user.comment'), [1, 'comment']);
    assert.deepEqual(s('system.posix_acl_access'), [2, '']);
    assert.deepEqual(s('system.posix_acl_default'), [3, '']);
    assert.deepEqual(s('trusted.overlay.opaque'), [4, 'overlay.opaque']);
    assert.deepEqual(s('lustre.lov'), [5, 'lov']);
    assert.deepEqual(s('security.selinux'), [6, 'selinux']);
    for (const bad of ['user.', 'system.data', 'system.posix_acl_access2', 'comment', 'USER.x', 'system.richacl', '']) {
      assert.equal(splitName(bad), null, bad);
    }
  });
});

describe('POSIX ACL conversion', () => {
  test('the known ACL: exact ext4 bytes, and back', () => {
    assert.deepEqual(aclToDisk(KNOWN_KERNEL), KNOWN_DISK);
    assert.deepEqual(aclFromDisk(KNOWN_DISK), KNOWN_KERNEL);
  });

  test('a minimal ACL (3 short entries)', () => {
    const k = kernelAcl([[1, 7], [4, 5], [0x20, 0]]);
    assert.deepEqual(aclToDisk(k), Buffer.from('01000000' + '01000700' + '04000500' + '20000000', 'hex'));
  });

  test('property: random ACLs round trip', () => {
    const entry = fc.oneof(
      fc.tuple(fc.constantFrom(0x01, 0x04, 0x10, 0x20), fc.integer({ min: 0, max: 7 })).map(([t, p]) => [t, p] as [number, number]),
      fc.tuple(fc.constantFrom(0x02, 0x08), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 0xfffffffe }))
        .map(([t, p, id]) => [t, p, id] as [number, number, number]),
    );
    fc.assert(fc.property(fc.array(entry, { maxLength: 30 }), (entries) => {
      const k = kernelAcl(entries);
      const disk = aclToDisk(k);
      const longOnes = entries.filter((e) => e.length === 3).length;
      assert.equal(disk.length, 4 + 4 * entries.length + 4 * longOnes);
      assert.equal(disk.readUInt32LE(0), 1);
      assert.deepEqual(aclFromDisk(disk), k);
    }));
  });

  test('malformed values are refused', () => {
    assert.throws(() => aclToDisk(Buffer.from('01000000', 'hex')), RangeError, 'version 1 is not the kernel form');
    assert.throws(() => aclToDisk(Buffer.from('0200000001000600', 'hex')), RangeError, 'truncated entry');
    assert.throws(() => aclToDisk(Buffer.alloc(2)), RangeError);
    assert.throws(() => aclFromDisk(Buffer.from('02000000', 'hex')), RangeError);
    assert.throws(() => aclFromDisk(Buffer.from('010000000200060064', 'hex')), RangeError, 'USER entry without id');
    assert.throws(() => aclFromDisk(Buffer.from('0100000040000600', 'hex')), RangeError, 'unknown tag');
    assert.throws(() => aclFromDisk(Buffer.from('010000000100', 'hex')), RangeError, 'half an entry');
  });
});

describe('encodeXattrs block layout', () => {
  test('one attribute: exact bytes', () => {
    const { blobs, unsupported } = encodeXattrs([{ name: 'user.comment', value: Buffer.from('hello xattr') }]);
    assert.deepEqual(unsupported, []);
    assert.equal(blobs.length, 1);
    const b = blobs[0]!;
    assert.equal(b.length, 1024);
    assert.equal(b.readUInt32LE(0), 0xea020000);
    assert.equal(EA_MAGIC_BLOCK, 0xea020000);
    assert.equal(b.readUInt32LE(4), 1, 'h_refcount');
    assert.equal(b.readUInt32LE(8), 1, 'h_blocks');
    // entry at 32: name_len 7, index 1, value_offs, value_inum 0, value_size 11, hash, "comment" + pad
    assert.equal(b[32], 7);
    assert.equal(b[33], 1);
    const voff = b.readUInt16LE(34);
    assert.equal(b.readUInt32LE(36), 0);
    assert.equal(b.readUInt32LE(40), 11);
    assert.equal(b.toString('latin1', 48, 55), 'comment');
    assert.equal(b.readUInt32LE(56), 0, 'entry list ends with a zero word');
    assert.equal(voff % 4, 0);
    assert.ok(voff >= 60, 'value after the entry list and its terminator');
    assert.equal(b.toString('latin1', voff, voff + 11), 'hello xattr');
    // Nothing else is set.
    const other = Buffer.from(b);
    other.fill(0, 0, 60);
    other.fill(0, voff, voff + 11);
    assert.ok(other.every((x) => x === 0));
  });

  test('several attributes: entries from offset 32, values packed 4-aligned right after the list', () => {
    const { blobs } = encodeXattrs([
      { name: 'user.a', value: Buffer.from('abcd') },
      { name: 'user.bb', value: Buffer.from('xy') },
      { name: 'security.c', value: Buffer.alloc(0) },
      { name: 'trusted.d', value: Buffer.from('12345') },
    ]);
    const b = blobs[0]!;
    // Entries of 20 bytes each at 32, 52, 72, 92; terminator at 112; values from 116.
    assert.deepEqual([32, 52, 72, 92].map((o) => [b[o], b[o + 1], b.readUInt16LE(o + 2), b.readUInt32LE(o + 8)]),
      [[1, 1, 116, 4], [2, 1, 120, 2], [1, 6, 124, 0], [1, 4, 124, 5]]);
    assert.equal(b.readUInt32LE(112), 0);
    assert.equal(b.toString('latin1', 116, 129), 'abcdxy\0\x0012345');
    assert.ok(b.subarray(129).every((x) => x === 0));
  });

  test('an ACL is stored in ext4 compact form under index 2, and read back in kernel form', () => {
    const { blobs } = encodeXattrs([{ name: 'system.posix_acl_access', value: KNOWN_KERNEL }]);
    const b = blobs[0]!;
    assert.equal(b[32], 0, 'no name suffix');
    assert.equal(b[33], 2);
    assert.equal(b.readUInt32LE(40), KNOWN_DISK.length);
    const voff = b.readUInt16LE(34);
    assert.deepEqual(b.subarray(voff, voff + KNOWN_DISK.length), KNOWN_DISK);
    const d = decodeXattrs(b);
    assert.deepEqual(d.errors, []);
    assert.deepEqual(plain(d.attrs), [['system.posix_acl_access', KNOWN_KERNEL.toString('hex')]]);
  });

  test('no attributes: no blob', () => {
    assert.deepEqual(encodeXattrs([]), { blobs: [], unsupported: [] });
  });

  test('unsupported namespaces are reported and left out', () => {
    const attrs: Xattr[] = [
      { name: 'user.a', value: Buffer.from('1') },
      { name: 'system.data', value: Buffer.from('2') },
      { name: 'user.', value: Buffer.from('3') },
      { name: 'foo', value: Buffer.from('4') },
      { name: 'user.' + 'n'.repeat(256), value: Buffer.from('5') },
      { name: 'trusted.b', value: Buffer.from('6') },
    ];
    const { blobs, unsupported } = encodeXattrs(attrs);
    assert.deepEqual(unsupported, ['system.data', 'user.', 'foo', 'user.' + 'n'.repeat(256)]);
    assert.equal(blobs.length, 1);
    assert.deepEqual(plain(decodeXattrs(blobs[0]!).attrs), [['user.a', '31'], ['trusted.b', '36']]);
  });

  test('a 255-byte name suffix is accepted', () => {
    const name = 'user.' + 'k'.repeat(255);
    const { blobs, unsupported } = encodeXattrs([{ name, value: Buffer.from('v') }]);
    assert.deepEqual(unsupported, []);
    assert.equal(blobs[0]![32], 255);
    assert.deepEqual(plain(decodeXattrs(blobs[0]!).attrs), [[name, '76']]);
  });

  test('attributes that do not fit 4 KiB together are split into several blobs', () => {
    const attrs = Array.from({ length: 10 }, (_, i) => ({ name: `user.attr${i}`, value: Buffer.alloc(1000, 0x61 + i) }));
    const { blobs } = encodeXattrs(attrs);
    // each costs 16+5 → 24 + 1000 = 1024; 36 + 3 × 1024 = 3108 fits, 4 × 1024 + 36 does not.
    assert.deepEqual(blobs.map((b) => b.length), [4096, 4096, 4096, 2048]);
    assert.deepEqual(blobs.map((b) => decodeXattrs(b).attrs.length), [3, 3, 3, 1]);
    assert.deepEqual(plain(blobs.flatMap((b) => decodeXattrs(b).attrs)), plain(attrs));
  });

  test('attributes needing exactly 4,096 bytes stay in one blob; one byte more splits', () => {
    // 32-byte header + 4-byte terminator + 3 × (20 + 996) + (20 + 992) = 4096
    const exact = [
      ...['a', 'b', 'c'].map((n) => ({ name: `user.${n}`, value: Buffer.alloc(996, n) })),
      { name: 'user.d', value: Buffer.alloc(992, 'd') },
    ];
    const one = encodeXattrs(exact).blobs;
    assert.deepEqual(one.map((b) => b.length), [4096]);
    assert.deepEqual(plain(decodeXattrs(one[0]!).attrs), plain(exact));
    const over = [...exact.slice(0, 3), { name: 'user.d', value: Buffer.alloc(993, 'd') }];
    assert.deepEqual(encodeXattrs(over).blobs.map((b) => decodeXattrs(b).attrs.length), [3, 1]);
  });

  test('a single attribute larger than 4 KiB gets a blob of its own, larger than 4 KiB, after the others', () => {
    const attrs: Xattr[] = [
      { name: 'user.small1', value: Buffer.from('one') },
      { name: 'user.huge', value: Buffer.alloc(5000, 0x7a) },
      { name: 'user.small2', value: Buffer.from('two') },
    ];
    const { blobs } = encodeXattrs(attrs);
    assert.equal(blobs.length, 2);
    assert.equal(blobs[0]!.length, 1024, 'both small ones in one blob Linux restore reads');
    assert.ok(blobs[1]!.length > EA_MAX_BLOB);
    assert.equal(blobs[1]!.length, 5120);
    const names = (b: Buffer) => decodeXattrs(b).attrs.map((a) => a.name);
    assert.deepEqual(names(blobs[0]!), ['user.small1', 'user.small2']);
    assert.deepEqual(plain(blobs.flatMap((b) => decodeXattrs(b).attrs)).sort(), plain(attrs).sort());
  });

  test('the padding block holds no attributes', () => {
    assert.equal(EA_PADDING_BLOCK.length, 1024);
    assert.deepEqual(decodeXattrs(EA_PADDING_BLOCK), { attrs: [], errors: [] });
  });

  const arbAttr: fc.Arbitrary<Xattr> = fc.record({
    prefix: fc.constantFrom('user.', 'trusted.', 'security.'),
    suffix: fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789._-é'.split('')), minLength: 1, maxLength: 60 }),
    value: fc.uint8Array({ maxLength: 1200 }),
  }).map(({ prefix, suffix, value }) => ({ name: prefix + suffix, value: Buffer.from(value) }));

  test('property: random attributes come back from the blobs, blobs ≤ 4 KiB and greedily filled', () => {
    fc.assert(fc.property(fc.array(arbAttr, { maxLength: 25 }), (attrs) => {
      const { blobs, unsupported } = encodeXattrs(attrs);
      assert.deepEqual(unsupported, []);
      const back: Xattr[] = [];
      const perBlob: Xattr[][] = [];
      for (const b of blobs) {
        assert.equal(b.length % 1024, 0);
        assert.ok(b.length <= EA_MAX_BLOB, `blob of ${b.length}`);
        assert.equal(b.readUInt32LE(0), EA_MAGIC_BLOCK);
        checkLayout(b);
        const d = decodeXattrs(b);
        assert.deepEqual(d.errors, []);
        assert.ok(d.attrs.length > 0);
        back.push(...d.attrs);
        perBlob.push(d.attrs);
      }
      assert.deepEqual(plain(back), plain(attrs));
      const costOf = (a: Xattr): number => cost(Buffer.byteLength(a.name.slice(a.name.indexOf('.') + 1)), a.value.length);
      for (let i = 0; i + 1 < perBlob.length; i++) {
        const used = 36 + perBlob[i]!.reduce((s, a) => s + costOf(a), 0);
        assert.ok(used <= 4096);
        assert.ok(used + costOf(perBlob[i + 1]![0]!) > 4096, 'the next blob\'s first attribute would not have fitted');
      }
    }), { numRuns: 100 });
  });

  test('property: a smaller maxBlob splits more, never loses anything', () => {
    fc.assert(fc.property(fc.array(arbAttr, { maxLength: 12 }), (attrs) => {
      const { blobs } = encodeXattrs(attrs, 1024);
      for (const b of blobs) {
        const d = decodeXattrs(b);
        if (d.attrs.length > 1) assert.ok(b.length <= 1024);
      }
      assert.deepEqual(plain(blobs.flatMap((b) => decodeXattrs(b).attrs)), plain(attrs));
    }), { numRuns: 80 });
  });
});

describe('decodeXattrs', () => {
  test('in-inode form: values relative to offset 4', () => {
    const b = Buffer.alloc(64);
    b.writeUInt32LE(EA_MAGIC_INODE, 0);
    b[4] = 1; b[5] = 1; b.writeUInt16LE(24, 6); b.writeUInt32LE(3, 12); b.write('k', 20);
    b.write('val', 4 + 24);
    const d = decodeXattrs(b);
    assert.deepEqual(d.errors, []);
    assert.deepEqual(plain(d.attrs), [['user.k', Buffer.from('val').toString('hex')]]);
  });

  test('bad magic, unknown index, value outside the blob are errors', () => {
    const bad = Buffer.alloc(1024);
    bad.writeUInt32LE(0x12345678, 0);
    assert.equal(decodeXattrs(bad).attrs.length, 0);
    assert.equal(decodeXattrs(bad).errors.length, 1);
    assert.equal(decodeXattrs(Buffer.alloc(2)).errors.length, 1);

    const { blobs } = encodeXattrs([{ name: 'user.one', value: Buffer.from('1') }, { name: 'user.two', value: Buffer.from('2') }]);
    const unknown = Buffer.from(blobs[0]!);
    unknown[32 + 20 + 1] = 7; // second entry (after 16+3 → 20 bytes) gets index 7 (system.)
    const du = decodeXattrs(unknown);
    assert.deepEqual(plain(du.attrs), [['user.one', '31']]);
    assert.equal(du.errors.length, 1);
    assert.match(du.errors[0]!, /index 7/);

    const outside = Buffer.from(blobs[0]!);
    outside.writeUInt32LE(5000, 32 + 8); // first value size beyond the blob
    const dout = decodeXattrs(outside);
    assert.deepEqual(dout.attrs, []);
    assert.equal(dout.errors.length, 1);
  });
});

describe('the EA records of the real level0.dump', () => {
  const img = readSample('level0.dump');
  const walk = walkImage(img);
  const eaRecords = walk.filter((h) => h.flags & 0x8000);
  const blobOf = (ino: number): Buffer => {
    const h = eaRecords.find((r) => r.inumber === ino);
    assert.ok(h, `EA record of inode ${ino}`);
    return img.subarray((h.block + 1) * BLOCK, (h.block + 1) * BLOCK + h.size);
  };

  test('the walk finds exactly the EA records of the listing', () => {
    const listed = readDecoded('level0.decoded').filter((d) => d.flags.includes('EXTATTRIBUTES'));
    assert.deepEqual(eaRecords.map((h) => [h.block, h.inumber]), listed.map((d) => [d.block, d.ino]));
    assert.deepEqual(eaRecords.map((h) => h.inumber), [2049, 2021, 2037, 2038]);
  });

  test('small.txt (2021): user.comment = "hello xattr" in the in-inode form', () => {
    const blob = blobOf(2021);
    assert.equal(blob.length, 256);
    assert.equal(blob.readUInt32LE(0), EA_MAGIC_INODE);
    const d = decodeXattrs(blob);
    assert.deepEqual(d.errors, []);
    assert.deepEqual(d.attrs.map((a) => [a.name, a.value.toString()]), [['user.comment', 'hello xattr']]);
  });

  test('acl.txt (2038): the access ACL user::rw-,user:1000:rw-,group::r--,group:100:r--,mask::rw-,other::r--', () => {
    const d = decodeXattrs(blobOf(2038));
    assert.deepEqual(d.errors, []);
    assert.deepEqual(plain(d.attrs), [['system.posix_acl_access', KNOWN_KERNEL.toString('hex')]]);
    assert.deepEqual(aclToDisk(d.attrs[0]!.value), KNOWN_DISK);
  });

  test('acldir (2049): default and access ACLs', () => {
    const d = decodeXattrs(blobOf(2049));
    assert.deepEqual(d.errors, []);
    assert.deepEqual(d.attrs.map((a) => a.name), ['system.posix_acl_default', 'system.posix_acl_access']);
    const listed = readDecoded('level0.decoded').find((x) => x.ino === 2049 && x.eas)!.eas!;
    assert.deepEqual(d.attrs.map((a) => aclToDisk(a.value).toString('hex')), listed.map((e) => e.value));
    // default: user::rwx, user:1000:rwx, group::r-x, mask::rwx, other::r-x
    assert.deepEqual(d.attrs[0]!.value, kernelAcl([[1, 7], [2, 7, 1000], [4, 5], [0x10, 7], [0x20, 5]]));
  });

  test('xattr_big.txt (2037): a block-form EA with a 300-byte value', () => {
    const blob = blobOf(2037);
    assert.equal(blob.length, 1024);
    assert.equal(blob.readUInt32LE(0), EA_MAGIC_BLOCK);
    const d = decodeXattrs(blob);
    assert.deepEqual(d.errors, []);
    assert.equal(d.attrs.length, 1);
    assert.equal(d.attrs[0]!.name, 'user.big');
    assert.equal(d.attrs[0]!.value.length, 300);
    assert.ok(d.attrs[0]!.value.every((x) => x === 0x78));
    // Our own encoding of the same attribute reads back identically.
    assert.deepEqual(plain(decodeXattrs(encodeXattrs(d.attrs).blobs[0]!).attrs), plain(d.attrs));
  });
});
