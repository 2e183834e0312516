/**
 * Random hostile trees and random damage: the restore always ends, fails only with a coded
 * SnapdumpError, and never writes outside DEST.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { SnapdumpError } from '../../src/errors.js';
import { restore } from '../../src/restore/index.js';
import { tempDir } from '../helpers/tree.js';
import { buildImage, dir, file, headerOffsets, listTree, memInput, removeRestored, symlink, type ImgObject } from '../helpers/image-builder.js';

let work: string;
let outside: string;
let n = 0;
before(() => {
  work = tempDir('restore-fuzz');
  outside = path.join(work, 'outside');
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'victim'), 'original\n');
});
after(() => removeRestored(work));

async function survive(img: Buffer): Promise<void> {
  const dest = path.join(work, `d${++n}`);
  fs.mkdirSync(dest);
  // A planted symlink in DEST as well, to a directory outside.
  fs.symlinkSync(outside, path.join(dest, 'a'));
  const t0 = Date.now();
  try {
    await restore({ files: [], inputs: [memInput(img)], dest, force: true });
  } catch (e) {
    if (!(e instanceof SnapdumpError) || e.code === 'ERR_INTERNAL') throw e;
    assert.match(e.code, /^ERR_/);
  }
  assert.ok(Date.now() - t0 < 5000, 'took too long');
  assert.deepEqual(listTree(outside), ['victim']);
  assert.equal(fs.readFileSync(path.join(outside, 'victim'), 'utf8'), 'original\n');
  removeRestored(dest);
}

function fixChecksum(buf: Buffer, off: number): void {
  buf.writeUInt32LE(0, off + 28);
  let sum = 0;
  for (let i = 0; i < 1024; i += 4) sum = (sum + buf.readUInt32LE(off + i)) >>> 0;
  buf.writeUInt32LE((84446 - sum) >>> 0, off + 28);
}

const NAMES = ['a', 'b', '.', '..', '', '/', 'a/b', '../a', 'victim', '...', 'a\0b'];

/** A random tree over inodes 2..12 (3..6 directories, the rest files and symlinks), names from NAMES. */
const trees = fc.record({
  entries: fc.array(fc.tuple(fc.integer({ min: 2, max: 6 }), fc.integer({ min: 2, max: 12 }), fc.constantFrom(...NAMES)), { maxLength: 30 }),
  targets: fc.array(fc.constantFrom('/', '..', '../..', 'a', '/etc/passwd', 'outside'), { minLength: 3, maxLength: 3 }),
  dots: fc.array(fc.integer({ min: 2, max: 12 }), { minLength: 5, maxLength: 5 }),
});

function imageOf(t: { entries: Array<[number, number, string]>; targets: string[]; dots: number[] }): Buffer {
  const objs: ImgObject[] = [];
  for (let d = 2; d <= 6; d++) {
    const entries = t.entries.filter(([p]) => p === d).map(([, ino, name]) => ({ ino, name, type: ino <= 6 ? 4 : 8 }));
    objs.push(dir(d, 2, entries, { entries: [{ ino: t.dots[d - 2]!, name: '.', type: 4 }, { ino: 2, name: '..', type: 4 }, ...entries] }));
  }
  for (let i = 7; i <= 9; i++) objs.push(file(i, `file ${i}\n`));
  for (let i = 10; i <= 12; i++) {
    const target = t.targets[i - 10]!;
    objs.push(symlink(i, target === 'outside' ? outside : target));
  }
  return buildImage(objs);
}

test('random hostile trees never lead outside DEST', { timeout: 60000 }, async () => {
  await fc.assert(fc.asyncProperty(trees, async (t) => survive(imageOf(t))), { numRuns: 60 });
});

test('random damage to a hostile image: coded errors only, nothing outside DEST', { timeout: 60000 }, async () => {
  const base = imageOf({
    entries: [[2, 3, 'a'], [2, 10, 'a'], [3, 7, 'victim'], [3, 11, 'x'], [2, 4, 'b'], [4, 8, 'f'], [4, 12, 'l'], [2, 9, 'g']],
    targets: ['outside', '/etc/passwd', '..'], dots: [2, 3, 4, 5, 6],
  });
  const headers = headerOffsets(base).map((h) => h.offset);
  const edits = fc.array(fc.tuple(fc.nat({ max: base.length - 1 }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 });
  await fc.assert(fc.asyncProperty(edits, fc.nat({ max: base.length }), fc.boolean(), async (flips, cut, fix) => {
    const img = Buffer.from(base);
    for (const [off, x] of flips) img[off]! ^= x;
    // Valid checksums again: hostile field values (types, modes, sizes, counts, inodes) get through.
    if (fix) for (const off of headers) fixChecksum(img, off);
    await survive(cut > base.length / 2 ? img : img.subarray(0, cut + 1024));
  }), { numRuns: 100 });
});
