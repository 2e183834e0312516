/**
 * The native directory encoder (native/direnc.c) writes exactly the bytes of the TypeScript
 * codec (encodeDirectoryFrom over directorySource) for any table, and refuses bad input with a
 * RangeError instead of reading outside the table.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeDirectoryFrom } from '../../src/format/directory.js';
import { encodeDirectory } from '../../src/native/sysx.js';
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
