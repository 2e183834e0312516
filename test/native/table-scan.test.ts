/**
 * native/table-scan.c: the passes over every row after the walk (identity numbering, the
 * incremental selection, the inode maps and emit orders), against plain JavaScript statements
 * of the same rules on random tables (fast-check).
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as sysx from '../../src/native/sysx.js';
import { Col, ItemKind } from '../../src/workers/read-protocol.js';
import { ROW, XCol } from '../../src/stages/entry-table.js';
import { InodeMap } from '../../src/format/bitmap.js';

interface Obj { parent: number; dir: boolean; src: number; mtime: number; ctime: number; size: number }

/** A random tree: object i > 0 has a parent among the directories before it; 0 is the root. */
const tables = fc.array(fc.record({
  parentPick: fc.nat(), dir: fc.boolean(), src: fc.integer({ min: 1, max: 5000 }),
  mtime: fc.integer({ min: 0, max: 20 }), ctime: fc.integer({ min: 0, max: 20 }), size: fc.nat(100000),
}), { maxLength: 200 }).map((xs) => {
  const objs: Obj[] = [{ parent: 0, dir: true, src: 100000, mtime: 0, ctime: 0, size: 0 }];
  const dirs = [0];
  const used = new Set<number>([100000]);
  for (const x of xs) {
    let src = x.src;
    while (used.has(src)) src += 5001; // source numbers are unique, some at or below 2
    used.add(src);
    objs.push({ parent: dirs[x.parentPick % dirs.length]!, dir: x.dir, src, mtime: x.mtime, ctime: x.ctime, size: x.size });
    if (x.dir) dirs.push(objs.length - 1);
  }
  return objs;
});

function rowsOf(objs: Obj[]): Float64Array {
  const r = new Float64Array(objs.length * ROW);
  objs.forEach((o, id) => {
    const at = id * ROW;
    r[at + Col.mode] = o.dir ? 0o40755 : 0o100644;
    r[at + Col.kind] = o.dir ? ItemKind.Other : ItemKind.File;
    r[at + Col.size] = o.size;
    r[at + Col.mtimeSec] = o.mtime;
    r[at + Col.ctimeSec] = o.ctime;
    r[at + XCol.srcIno] = o.src;
    r[at + XCol.parent] = o.parent;
  });
  return r;
}

it('identityNumbers keeps source numbers when all fit, the root becoming 2, else returns 0', () => {
  fc.assert(fc.property(tables, fc.integer({ min: 3, max: 20000 }), (objs, limit) => {
    const rows = rowsOf(objs);
    const got = sysx.identityNumbers(rows, limit);
    const fits = objs.slice(1).every((o) => o.src > 2 && o.src < limit && o.src !== objs[0]!.src);
    if (!fits) return assert.equal(got, 0);
    assert.equal(got, Math.max(2, ...objs.slice(1).map((o) => o.src)) + 1);
    assert.equal(rows[Col.ino], 2);
    objs.forEach((o, id) => { if (id > 0) assert.equal(rows[id * ROW + Col.ino], o.src); });
  }));
});

it('selectChanged marks what changed since the date, the directories on the way to it, and the root', () => {
  fc.assert(fc.property(tables, fc.integer({ min: 0, max: 21 }), fc.boolean(), (objs, since, ignoreCtime) => {
    const selected = new Uint8Array(objs.length);
    sysx.selectChanged(rowsOf(objs), since, ignoreCtime ? Infinity : since, selected);
    const want = new Uint8Array(objs.length);
    want[0] = 1;
    objs.forEach((o, id) => {
      if (o.mtime < since && (ignoreCtime || o.ctime < since)) return;
      for (let a = id; ; a = objs[a]!.parent) { want[a] = 1; if (a === 0) break; }
    });
    assert.deepEqual(selected, want);
  }));
});

it('inodeMaps sets the in-use and dumped bits and lists directories and others by dump number', () => {
  fc.assert(fc.property(tables, fc.option(fc.integer({ min: 0, max: 21 }), { nil: null }), (objs, since) => {
    const rows = rowsOf(objs);
    // Dump numbers: unique, from 2, not in walk order.
    const inos: number[] = [];
    objs.map((_, id) => id).sort((a, b) => ((a * 7919) % 97) - ((b * 7919) % 97) || a - b).forEach((id, rank) => { inos[id] = 2 + rank; });
    inos.forEach((ino, id) => { rows[id * ROW + Col.ino] = ino; });
    const maxino = Math.max(...inos) + 1;
    const selected = since === null ? null : objs.map((o) => (o.mtime >= since ? 1 : 0));
    const sel = selected ? Uint8Array.from(selected) : null;
    const inUse = new InodeMap(maxino);
    const dumped = new InodeMap(maxino);
    const dirs = new Int32Array(objs.length);
    const others = new Int32Array(objs.length);
    const n = sysx.inodeMaps(rows, sel, inUse.storage, dumped.storage, dirs, others);
    const chosen = objs.map((_, id) => id).filter((id) => !sel || sel[id]);
    const byIno = (a: number, b: number) => inos[a]! - inos[b]!;
    assert.deepEqual([...dirs.subarray(0, n.directories)], chosen.filter((id) => objs[id]!.dir).sort(byIno));
    assert.deepEqual([...others.subarray(0, n.others)], chosen.filter((id) => !objs[id]!.dir).sort(byIno));
    assert.equal(n.bytes, chosen.filter((id) => !objs[id]!.dir).reduce((s, id) => s + objs[id]!.size, 0));
    for (let ino = 1; ino < maxino + 8; ino++) {
      const id = inos.indexOf(ino);
      assert.equal(inUse.has(ino), id >= 0, `in use ${ino}`);
      assert.equal(dumped.has(ino), id >= 0 && chosen.includes(id), `dumped ${ino}`);
    }
  }));
});

it('refuses rows that are not whole table rows', () => {
  assert.throws(() => sysx.identityNumbers(new Float64Array(ROW + 1), 10), TypeError);
  assert.throws(() => sysx.selectChanged(new Float64Array(ROW), 0, 0, new Uint8Array(0)), TypeError);
});
