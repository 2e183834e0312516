/** The entry table keeps names as the walk's bytes; directories are encoded straight from them. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { DT_DIR, DT_REG } from '../../src/format/constants.js';
import { decodeDirectory, encodeDirectory, encodeDirectoryFrom } from '../../src/format/directory.js';
import { directorySource } from '../../src/stages/directory-emit.js';
import { EntryTable, ROW, XCol } from '../../src/stages/entry-table.js';
import { COLS, Col } from '../../src/workers/read-protocol.js';

const bad = Buffer.from([0x66, 0xff, 0x66]); // not UTF-8

/** root/ holding `sub/` and files; sub/ holding a second name of the first file. */
function build(capacity: number, files: number) {
  const t = new EntryTable(capacity);
  const root = t.add();
  t.set(root, Col.mode, 0o040755); t.set(root, Col.ino, 2);
  t.dirPaths.set(root, '/src');
  const names = [Buffer.from('café'), bad, Buffer.from('sub'), ...Array.from({ length: files }, (_, i) => Buffer.from(`f${i}`))];
  const base = t.addNameBytes(Buffer.concat(names.flatMap((n) => [n, Buffer.of(0)])));
  t.set(root, XCol.childStart, t.linkCount);
  let at = base;
  const ids: number[] = [];
  names.forEach((n, i) => {
    const id = t.add();
    t.set(id, Col.mode, n.toString() === 'sub' ? 0o040755 : 0o100644);
    t.set(id, Col.ino, 10 + i);
    t.set(id, XCol.parent, root);
    t.addLink(id, at, n.length, n === bad);
    at += n.length + 1;
    ids.push(id);
  });
  t.set(root, XCol.childCount, t.linkCount - t.get(root, XCol.childStart));
  const sub = ids[2]!;
  t.dirPaths.set(sub, '/src/sub');
  const link = t.addNameBytes(Buffer.from('again\0'));
  t.set(sub, XCol.childStart, t.linkCount);
  t.addLink(ids[0]!, link, 5, false);
  t.set(sub, XCol.childCount, 1);
  return { t, root, sub, ids };
}

it('names stay bytes: decoded for paths, raw ones as a copy of their bytes; first names survive more links', () => {
  const { t, ids, sub } = build(2, 300); // capacity 2: rows, links and name bytes all grow
  assert.equal(t.path(ids[0]!), '/src/café');
  assert.deepEqual(t.path(ids[1]!), Buffer.from('/src/\x66\xff\x66', 'latin1'));
  assert.equal(t.path(sub), '/src/sub');
  assert.equal(t.path(ids[302]!), '/src/f299');
  const raw = t.linkName(1) as Buffer;
  raw[0] = 0x41; // a copy: the table's bytes are untouched
  assert.deepEqual(t.linkName(1), bad);
  assert.equal(t.linkNameLength(1), 3);
  assert.equal(t.linkName(t.linkCount - 1), 'again');
});

it('directorySource encodes like encodeDirectory of the same entries (dots, types, raw names, a second link)', () => {
  const { t, root, sub, ids } = build(16, 40);
  const rootData = encodeDirectoryFrom(directorySource(t, root));
  const want = encodeDirectory([
    { ino: 2, type: DT_DIR, name: '.' }, { ino: 2, type: DT_DIR, name: '..' },
    { ino: 10, type: DT_REG, name: 'café' }, { ino: 11, type: DT_REG, name: bad }, { ino: 12, type: DT_DIR, name: 'sub' },
    ...Array.from({ length: 40 }, (_, i) => ({ ino: 13 + i, type: DT_REG, name: `f${i}` })),
  ]);
  assert.deepEqual(rootData, want);
  const subData = encodeDirectoryFrom(directorySource(t, sub));
  assert.deepEqual(decodeDirectory(subData, subData.length).entries.map((e) => [e.ino, e.type, Buffer.from(e.name).toString()]),
    [[12, DT_DIR, '.'], [2, DT_DIR, '..'], [t.get(ids[0]!, Col.ino), DT_REG, 'again']]);
});

it('the extra columns follow the worker\'s row, one each, within ROW', () => {
  assert.deepEqual([XCol.srcIno, XCol.parent, XCol.childStart, XCol.childCount, XCol.dumpFlags], [COLS, COLS + 1, COLS + 2, COLS + 3, COLS + 4]);
  assert.equal(ROW, COLS + 5);
});
