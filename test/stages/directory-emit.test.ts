/**
 * Phase III packs many directories into each chunk: the bytes, header positions and object
 * starts must be exactly those of one objectChunk per directory (and its EA records), in order.
 */
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeDirectoryFrom } from '../../src/format/directory.js';
import { chunkBlocks, joinChunks, objectChunk, padToBlocks, type TapeChunk } from '../../src/format/object-headers.js';
import type { VolumeInfo } from '../../src/format/volume.js';
import { directoryEmit, directorySource } from '../../src/stages/directory-emit.js';
import { inodeFields, traverse, type DumpPlan } from '../../src/stages/traverse.js';
import { EntryTable, ROW, XCol } from '../../src/stages/entry-table.js';
import { xattrRecords } from '../../src/stages/xattr-emit.js';
import { Col } from '../../src/workers/read-protocol.js';
import { haveProgram, removeTree, run, tempDir } from '../helpers/tree.js';

const root = tempDir('dir-emit');
after(() => removeTree(root));

/** Flattens chunks into one byte string with absolute header blocks and object starts. */
function flatten(chunks: TapeChunk[]): { bytes: Buffer; headers: number[]; objects: Array<[number, number]> } {
  const j = joinChunks(chunks);
  return { bytes: Buffer.concat(j.parts as Buffer[]), headers: j.headers, objects: j.objects };
}

/** The chunks of phase III made one directory (and its EA records) at a time. */
function oneChunkEach(plan: DumpPlan, vol: VolumeInfo): TapeChunk[] {
  const t = plan.table;
  const want: TapeChunk[] = [];
  for (const dir of plan.directories) {
    const data = encodeDirectoryFrom(directorySource(t, dir));
    const inode = { ...inodeFields(t, dir), size: data.length };
    const padded = padToBlocks(data);
    const ino = t.get(dir, Col.ino);
    want.push(objectChunk(vol, ino, inode, padded.length / 1024, padded, null));
    const ea = xattrRecords(vol, ino, inode, t.xattrs.get(dir) ?? []);
    if (ea.chunk) want.push(ea.chunk);
  }
  return want;
}

it('packs small directories into ~1 MiB chunks, a large one and EA records in between, byte for byte as one chunk each', async () => {
  const src = path.join(root, 'src');
  // 700 small directories (2 KiB each with their header: more than one 1 MiB chunk) ...
  for (let d = 0; d < 700; d++) {
    const dir = path.join(src, `d${String(d).padStart(3, '0')}`);
    fs.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 3; f++) fs.writeFileSync(path.join(dir, `f${f}`), '');
  }
  // ... one whose listing needs more than one header (over 512 blocks) ...
  const big = path.join(src, 'd350', 'big');
  fs.mkdirSync(big);
  for (let f = 0; f < 15000; f++) fs.writeFileSync(path.join(big, `a-rather-long-file-name-${f}`), '');
  // ... and some with extended attributes (EA records follow their directory).
  const withXattrs = haveProgram('setfattr') && run('setfattr', ['-n', 'user.test', '-v', 'x', path.join(src, 'd010')]).status === 0;
  if (withXattrs) run('setfattr', ['-n', 'user.other', '-v', 'y'.repeat(100), path.join(src, 'd500')]);

  const plan = await traverse({ source: src, concurrency: 2 });
  const vol: VolumeInfo = { date: 1_700_000_000, ddate: 0, volume: 1, level: 0, label: 'none', filesys: src, dev: 'test', host: 'test', ntrec: 10, maxino: plan.maxino };
  const notices: unknown[] = [];
  const chunks = [...directoryEmit(plan, vol, (n) => notices.push(n))];

  const got = flatten(chunks);
  const expected = flatten(oneChunkEach(plan, vol));
  assert.equal(got.bytes.length, expected.bytes.length);
  assert.ok(got.bytes.equals(expected.bytes), 'the same bytes');
  assert.deepEqual(got.headers, expected.headers);
  assert.deepEqual(got.objects, expected.objects);
  assert.equal(got.objects.length, plan.directories.length);
  if (withXattrs) assert.ok(expected.headers.length > plan.directories.length + 2, 'EA records and TS_ADDR headers were there to check');
  assert.deepEqual(notices, []);
  // Packed: far fewer chunks than directories, none much larger than 1 MiB beyond one listing.
  assert.ok(chunks.length >= 2 && chunks.length < 10, `${chunks.length} chunks`);
  for (const c of chunks.slice(0, -1)) assert.ok(chunkBlocks(c) * 1024 > (1 << 20) - 64 * 1024, 'a chunk is handed on once about 1 MiB is full');

  // Released chunks' buffers are reused, and what the writer took before stays as it was.
  const copies: Buffer[] = [];
  const seen = new Set<ArrayBufferLike>();
  let reused = false;
  for (const c of directoryEmit(plan, vol, () => undefined)) {
    copies.push(Buffer.concat(c.parts as Buffer[]));
    for (const p of c.parts as Buffer[]) {
      if (p.buffer.byteLength !== 1 << 20) continue; // a pack buffer, not a pooled small one
      if (seen.has(p.buffer)) reused = true;
      seen.add(p.buffer);
    }
    c.release?.();
  }
  assert.ok(Buffer.concat(copies).equals(expected.bytes), 'the same bytes with reuse');
  assert.ok(reused, 'a released buffer was written again');
});

it('starts the next chunk with a directory that does not fit the room left, its listing written there', () => {
  // A table made by hand, so the order and sizes are exact: the root and 400 directories with
  // listings of two blocks (five 200-byte names), 3 blocks each with their header.
  const t = new EntryTable(4096);
  const addRow = (mode: number, ino: number, parent: number) => {
    const id = t.add();
    t.rows.fill(0, id * ROW, (id + 1) * ROW);
    t.set(id, Col.mode, mode); t.set(id, Col.ino, ino); t.set(id, Col.nlink, 2); t.set(id, Col.birthNsec, -1);
    t.set(id, XCol.parent, parent);
    return id;
  };
  const root = addRow(0o40755, 2, 0);
  const dirs = [root];
  for (let d = 0; d < 400; d++) dirs.push(addRow(0o40755, 100 + d, root));
  const link = (dir: number, child: number, name: string) => t.addLink(child, t.addNameBytes(Buffer.from(name)), Buffer.byteLength(name), false);
  t.set(root, XCol.childStart, t.linkCount);
  for (let d = 0; d < 400; d++) link(root, dirs[d + 1]!, `d${String(d).padStart(3, '0')}`);
  t.set(root, XCol.childCount, 400);
  for (let d = 0; d < 400; d++) {
    const dir = dirs[d + 1]!;
    t.set(dir, XCol.childStart, t.linkCount);
    for (let f = 0; f < 5; f++) link(dir, addRow(0o100644, 1000 + d * 5 + f, dir), `${f}-${'n'.repeat(198)}`);
    t.set(dir, XCol.childCount, 5);
  }
  const plan = { table: t, root, directories: Int32Array.from(dirs) } as unknown as DumpPlan;
  const vol: VolumeInfo = { date: 1_700_000_000, ddate: 0, volume: 1, level: 0, label: 'none', filesys: '/', dev: 'test', host: 'test', ntrec: 10, maxino: 4000 };
  // Stale bytes in every buffer the packer may take: a listing not written there would show.
  const chunks: TapeChunk[] = [];
  for (const c of directoryEmit(plan, vol, () => undefined)) {
    chunks.push({ ...c, parts: c.parts.map((p) => Buffer.from(p as Buffer)) });
    for (const p of c.parts as Buffer[]) if (p.buffer.byteLength === 1 << 20) Buffer.from(p.buffer).fill(0xa5);
    c.release?.();
  }
  // The root's object (8 blocks with its header) and as many 3-block ones as fit 1,024 blocks
  // leave 2 blocks that the next one does not fit.
  const rootBlocks = 1 + Math.ceil(encodeDirectoryFrom(directorySource(t, root)).length / 1024);
  assert.equal(rootBlocks, 8);
  assert.equal(chunkBlocks(chunks[0]!), rootBlocks + 3 * Math.floor((1024 - rootBlocks) / 3), 'the first chunk ends where the next directory did not fit');
  assert.ok(chunkBlocks(chunks[0]!) < 1024);
  const got = flatten(chunks);
  const expected = flatten(oneChunkEach(plan, vol));
  assert.ok(got.bytes.equals(expected.bytes), 'the same bytes');
  assert.deepEqual(got.headers, expected.headers);
  assert.deepEqual(got.objects, expected.objects);
});
