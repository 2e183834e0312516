/**
 * The native directory encoder (native/direnc.c) writes exactly the bytes of the TypeScript
 * codec (encodeDirectoryFrom over directorySource) for any table, and refuses bad input with a
 * RangeError instead of reading outside the table. directoryRecords (runs of whole directory
 * records) is compared byte for byte through directoryEmit in test/stages/directory-emit.test.ts;
 * here, where it stops.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeDirectoryFrom } from '../../src/format/directory.js';
import { directoryRecords, encodeDirectory } from '../../src/native/sysx.js';
import { directorySource, directoryTable } from '../../src/stages/directory-emit.js';
import { EntryTable, XCol } from '../../src/stages/entry-table.js';
import { Col } from '../../src/workers/read-protocol.js';

const MODES = [0o100644, 0o040755, 0o120777, 0o020600, 0o060600, 0o010644, 0o140755, 0o170000];

interface Spec { names: Uint8Array[]; raw: boolean[]; inos: number[]; modes: number[]; dirIno: number }

/** root (ino dirIno) holding one entry per name. */
function build(spec: Spec): { t: EntryTable; root: number } {
  const t = new EntryTable(4);
  const root = t.add();
  t.set(root, Col.mode, 0o040755);
  t.set(root, Col.ino, spec.dirIno);
  t.dirPaths.set(root, '/src');
  t.set(root, XCol.childStart, t.linkCount);
  spec.names.forEach((name, i) => {
    const id = t.add();
    t.set(id, Col.mode, spec.modes[i]!);
    t.set(id, Col.ino, spec.inos[i]!);
    t.set(id, XCol.parent, root);
    t.addLink(id, t.addNameBytes(name), name.length, spec.raw[i]!);
  });
  t.set(root, XCol.childCount, t.linkCount - t.get(root, XCol.childStart));
  return { t, root };
}

const spec = fc.integer({ min: 0, max: 120 }).chain((n) => fc.record({
  names: fc.array(fc.uint8Array({ minLength: 1, maxLength: 255 }), { minLength: n, maxLength: n }),
  raw: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
  inos: fc.array(fc.integer({ min: 1, max: 0xffffffff }), { minLength: n, maxLength: n }),
  modes: fc.array(fc.constantFrom(...MODES), { minLength: n, maxLength: n }),
  dirIno: fc.integer({ min: 2, max: 0xffffffff }),
}));

it('encodes like the TypeScript codec: any names (1..255 bytes, raw or not), numbers and types', () => {
  fc.assert(fc.property(spec, fc.integer({ min: 0, max: 7 }), (s, pad) => {
    const { t, root } = build(s);
    const want = encodeDirectoryFrom(directorySource(t, root));
    const table = directoryTable(t);
    const first = t.get(root, XCol.childStart), count = t.get(root, XCol.childCount);
    assert.equal(encodeDirectory(null, 0, table, first, count, s.dirIno, s.dirIno), want.length);
    const out = Buffer.alloc(want.length + pad + 3, 0xee); // stale bytes: the encoder zeroes its range
    assert.equal(encodeDirectory(out, pad, table, first, count, s.dirIno, s.dirIno), want.length);
    assert.ok(out.subarray(pad, pad + want.length).equals(want));
    assert.ok(out.subarray(0, pad).every((b) => b === 0xee) && out.subarray(pad + want.length).every((b) => b === 0xee), 'nothing outside its range');
  }), { numRuns: 150 });
});

it('writes nothing where the directory does not fit, and still returns its size', () => {
  const { t, root } = build({ names: [Buffer.from('a'), Buffer.from('b')], raw: [false, false], inos: [5, 6], modes: [0o100644, 0o100644], dirIno: 2 });
  const table = directoryTable(t);
  const first = t.get(root, XCol.childStart);
  const out = Buffer.alloc(600, 0xee);
  assert.equal(encodeDirectory(out, 89, table, first, 2, 2, 2), 512);
  assert.ok(out.every((b) => b === 0xee), 'one byte short: untouched');
  assert.equal(encodeDirectory(out, 88, table, first, 2, 2, 2), 512);
  assert.notEqual(out[88], 0xee, 'exactly room enough: written');
});

it('refuses bad input with a RangeError', () => {
  const { t, root } = build({ names: [Buffer.from('a'), Buffer.from('b')], raw: [false, false], inos: [5, 6], modes: [0o100644, 0o100644], dirIno: 2 });
  const table = directoryTable(t);
  const first = t.get(root, XCol.childStart);
  assert.throws(() => encodeDirectory(null, 0, table, first, t.linkChild.length, 2, 2), RangeError, 'links past the table');
  assert.throws(() => encodeDirectory(null, 0, { ...table, geometry: Int32Array.of(31, 40, 2) }, first, 2, 2, 2), RangeError, 'a column outside the row');
  t.linkLength[first] = 256;
  assert.throws(() => encodeDirectory(null, 0, table, first, 2, 2, 2), /directory entry name of 256 bytes/);
  t.linkLength[first] = 1;
  t.linkStart[first] = t.nameBytes.length;
  assert.throws(() => encodeDirectory(null, 0, table, first, 2, 2, 2), RangeError, 'a name outside the arena');
});

it('directoryRecords writes runs of directories and stops where the caller must write one itself', () => {
  // Four directories below the root, each with a listing of one chunk (512 bytes, one block).
  const t = new EntryTable(16);
  const root = t.add();
  t.set(root, Col.mode, 0o040755); t.set(root, Col.ino, 2); t.set(root, Col.birthNsec, -1);
  t.set(root, XCol.childStart, 0);
  const dirs = [root];
  for (let d = 0; d < 4; d++) {
    const id = t.add();
    t.set(id, Col.mode, 0o040755); t.set(id, Col.ino, 10 + d); t.set(id, Col.birthNsec, -1); t.set(id, XCol.parent, root);
    t.addLink(id, t.addNameBytes(Buffer.from(`d${d}`)), 2, false);
    dirs.push(id);
  }
  t.set(root, XCol.childCount, 4);
  for (const d of dirs.slice(1)) { t.set(d, XCol.childStart, t.linkCount); t.set(d, XCol.childCount, 0); }
  const table = directoryTable(t);
  const ids = Int32Array.from(dirs);
  const template = Buffer.alloc(1024, 0);
  const marks = new Float64Array(2 * ids.length);
  const out = Buffer.alloc(8 * 1024, 0xee);
  // Directory 2 is special: the run stops before it.
  const special = Uint8Array.from([0, 0, 1, 0, 0]);
  let r = directoryRecords(table, ids, 0, special, template, out, 1024, 7, marks);
  assert.deepEqual(r, { next: 2, at: 1024 + 2 * 2048, written: 2 });
  assert.deepEqual([...marks.subarray(0, 4)], [2, 7 + 1, 10, 7 + 3], '(inode, block) of each, from blockBase');
  assert.ok(out.subarray(0, 1024).every((b) => b === 0xee), 'nothing before at');
  assert.equal(out.readUInt32LE(1024 + 20), 2, 'the root header names its inode');
  assert.equal(out.readUInt32LE(1024 + 1024), 2, 'then its listing: "." is inode 2');
  // From 3 on, room for one more directory only.
  r = directoryRecords(table, ids, 3, special, template, out, 6 * 1024, 0, marks);
  assert.deepEqual(r, { next: 4, at: 8 * 1024, written: 1 });
  assert.throws(() => directoryRecords(table, ids, 0, special, Buffer.alloc(10), out, 0, 0, marks), RangeError);
});
