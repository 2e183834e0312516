import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { finished } from 'node:stream/promises';
import { describe, test } from 'node:test';
import fc from 'fast-check';

import { InodeMap, mapSizeFor } from '../../src/format/bitmap.js';
import { RecordType } from '../../src/format/constants.js';
import { encodeDirectory } from '../../src/format/directory.js';
import { emptyInode, encodeHeader, emptyHeader, type DumpInode } from '../../src/format/header.js';
import { mapRecord, objectChunk, volumeLabel, xattrChunk, type TapeChunk } from '../../src/format/object-headers.js';
import { type VolumeInfo } from '../../src/format/volume.js';
import { TapeWriter } from '../../src/pipeline/tape-writer.js';
import type { TapeSink } from '../../src/tape/sink.js';
import { BLOCK, parseDecoded, patternBytes, runDecodeTool, walkImage, wordSum } from '../helpers/format-fixtures.js';

class MemorySink implements TapeSink {
  readonly name = 'memory';
  readonly identity = null;
  readonly writes: Buffer[] = [];
  committed = false;
  constructor(private readonly delayMs = 0, private readonly failOnWrite = -1) {}
  async write(parts: readonly Buffer[]): Promise<void> {
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.writes.length === this.failOnWrite) throw new Error('disk on fire');
    // Snapshot: what a real sink would have put on disk at this moment.
    this.writes.push(Buffer.concat(parts.map((p) => Buffer.from(p))));
  }
  async commit(): Promise<void> { this.committed = true; }
  async abort(): Promise<void> { /* nothing */ }
  get image(): Buffer { return Buffer.concat(this.writes); }
}

function volume(ntrec: number): VolumeInfo {
  return { date: 1795311507, ddate: 0, volume: 1, level: 0, label: 'unit', filesys: '/src', dev: 'snap', host: 'test', ntrec, maxino: 101 };
}

function inode(mode: number, size: number): DumpInode {
  return { ...emptyInode(), mode, nlink: 1, size, mtime: 1795311500 };
}

/**
 * A small dump: TS_TAPE, maps, root dir (ino 2), an empty file (3), a file of `fileBlocks`
 * blocks (4) with an EA record, a sparse file (5). Returns the chunks and the number of blocks.
 */
function content(vol: VolumeInfo, fileBlocks: number): { chunks: TapeChunk<Buffer>[]; blocks: number; objects: number[] } {
  const used = new InodeMap();
  for (const i of [2, 3, 4, 5]) used.set(i);
  const map = used.toBuffer(mapSizeFor(vol.maxino));
  const dir = encodeDirectory([
    { ino: 2, type: 4, name: Buffer.from('.') }, { ino: 2, type: 4, name: Buffer.from('..') },
    { ino: 3, type: 8, name: Buffer.from('empty') }, { ino: 4, type: 8, name: Buffer.from('big') }, { ino: 5, type: 8, name: Buffer.from('sparse') },
  ]);
  const dirData = Buffer.alloc(1024);
  dir.copy(dirData);
  const sparsePresent = Uint8Array.from([0, 1, 0, 0, 1]);
  const chunks: TapeChunk<Buffer>[] = [
    volumeLabel(vol),
    mapRecord(vol, RecordType.CLRI, Buffer.from(map), 0),
    mapRecord(vol, RecordType.BITS, Buffer.from(map), 2),
    objectChunk(vol, 2, inode(0o40755, dir.length), 1, dirData, null),
    objectChunk(vol, 3, inode(0o100644, 0), 0, Buffer.alloc(0), null),
    objectChunk(vol, 4, inode(0o100644, fileBlocks * 1024), fileBlocks, patternBytes(fileBlocks * 1024, fileBlocks + 1), null),
    xattrChunk(vol, 4, inode(0o100644, fileBlocks * 1024), patternBytes(1024, 99)),
    objectChunk(vol, 5, inode(0o100644, 5 * 1024), 5, patternBytes(2 * 1024, 7), sparsePresent),
  ];
  return { chunks, blocks: contentBlocks(fileBlocks), objects: [2, 3, 4, 5] };
}

/** Blocks of {@link content}, counted by hand: 1 + (1+1) + (1+1) + (1+1) + 1 + file + (1+1) + (1+2). */
function contentBlocks(fileBlocks: number): number {
  const fileHeaders = Math.max(1, Math.ceil(fileBlocks / 512));
  return 1 + 2 + 2 + 2 + 1 + fileHeaders + fileBlocks + 2 + 3;
}

/** The image the writer should produce: the chunk bytes with c_tapea set, then TS_END records. */
function snapshot(chunks: ReadonlyArray<TapeChunk<Buffer>>): Buffer {
  return Buffer.concat(chunks.flatMap((c) => c.parts.map((p) => Buffer.from(p))));
}

async function run(chunks: readonly TapeChunk[], vol: VolumeInfo, opts: { batchBytes?: number; sink?: MemorySink } = {}) {
  const sink = opts.sink ?? new MemorySink();
  const inodes: Array<[number, number]> = [];
  const written: number[] = [];
  const w = new TapeWriter({
    sink, volume: vol, batchBytes: opts.batchBytes,
    onInode: (ino, off) => inodes.push([ino, off]), onWritten: (b) => written.push(b),
  });
  for (const c of chunks) if (!w.write(c)) await once(w, 'drain');
  w.end();
  await finished(w);
  return { image: sink.image, sink, inodes, written, writer: w };
}

/** Independent check of a finished image; returns the TS_END count. */
function checkImage(image: Buffer, expectedContent: Buffer, nContent: number, vol: VolumeInfo): number {
  assert.equal(image.length % (vol.ntrec * BLOCK), 0, `whole records of ${vol.ntrec} blocks`);
  const total = image.length / BLOCK;
  const walk = walkImage(image);
  // Every header is valid and numbered by its position.
  for (const h of walk) {
    assert.equal(image.readUInt32LE(h.block * BLOCK + 16), h.block, `c_tapea of the header at ${h.block}`);
    assert.equal(wordSum(image, h.block * BLOCK), 84446);
  }
  const last = walk[walk.length - 1]!;
  assert.equal(last.type, 5, 'the walk ends at a TS_END');
  assert.equal(last.block, nContent, 'the first TS_END follows the content');
  // The rest are TS_END too, each with its own c_tapea.
  for (let b = nContent; b < total; b++) {
    const o = b * BLOCK;
    assert.equal(image.readInt32LE(o), 5, `block ${b} is TS_END`);
    assert.equal(image.readUInt32LE(o + 16), b);
    assert.equal(image.readUInt32LE(o + 20), vol.maxino - 1);
    assert.equal(image.readInt32LE(o + 896), vol.ntrec);
    assert.equal(wordSum(image, o), 84446);
  }
  // Content: identical to the chunks except c_tapea and c_checksum of headers.
  assert.equal(expectedContent.length, nContent * BLOCK);
  const headerBlocks = new Set(walk.map((h) => h.block));
  for (let b = 0; b < nContent; b++) {
    const got = image.subarray(b * BLOCK, (b + 1) * BLOCK);
    const want = Buffer.from(expectedContent.subarray(b * BLOCK, (b + 1) * BLOCK));
    if (headerBlocks.has(b)) {
      want.writeUInt32LE(b, 16);
      want.writeUInt32LE(0, 28);
      want.writeUInt32LE((84446 - wordSum(want) + 2 ** 32) % 2 ** 32, 28);
    }
    if (!got.equals(want)) assert.fail(`block ${b} differs`);
  }
  return total - nContent;
}

describe('TapeWriter', () => {
  for (const ntrec of [4, 10, 64, 256]) {
    test(`blocking factor ${ntrec}: numbering, checksums, onInode, TS_END padding`, async () => {
      const vol = volume(ntrec);
      const { chunks, blocks, objects } = content(vol, 37);
      const before = snapshot(chunks);
      assert.equal(before.length, blocks * BLOCK);
      const r = await run(chunks, vol);
      const ends = checkImage(r.image, before, blocks, vol);
      assert.equal(ends, ntrec - (blocks % ntrec), 'TS_END fill up the last record');
      assert.ok(ends >= 1);
      // onInode: byte offset of each object's TS_INODE (not of EA records or map headers).
      const walk = walkImage(r.image);
      const firstHeaders = objects.map((ino) => walk.find((h) => h.type === 2 && h.inumber === ino && !(h.flags & 0x8000))!.block * BLOCK);
      assert.deepEqual(r.inodes, objects.map((ino, i) => [ino, firstHeaders[i]!]));
      assert.equal(r.writer.blockCount, r.image.length / BLOCK);
      assert.equal(r.writer.bytesWritten, r.image.length);
      assert.equal(r.written[r.written.length - 1], r.image.length);
    });

    test(`blocking factor ${ntrec}: content already a whole number of records gets a whole record of TS_END`, async () => {
      const vol = volume(ntrec);
      // Find a file size that makes the content an exact multiple of the record.
      let fileBlocks = 0;
      while (contentBlocks(fileBlocks) % ntrec !== 0) fileBlocks++;
      const { chunks, blocks } = content(vol, fileBlocks);
      assert.equal(blocks % ntrec, 0);
      const before = snapshot(chunks);
      const r = await run(chunks, vol);
      assert.equal(checkImage(r.image, before, blocks, vol), ntrec);
      assert.equal(r.image.length, (blocks + ntrec) * BLOCK);
    });

    test(`blocking factor ${ntrec}: one block short of a record gets exactly one TS_END`, async () => {
      const vol = volume(ntrec);
      let fileBlocks = 0;
      while (contentBlocks(fileBlocks) % ntrec !== ntrec - 1) fileBlocks++;
      const { chunks, blocks } = content(vol, fileBlocks);
      const before = snapshot(chunks);
      const r = await run(chunks, vol);
      assert.equal(checkImage(r.image, before, blocks, vol), 1);
    });
  }

  test('property: any blocking factor 4..256 and file size give a valid, whole-record image', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 4, max: 256 }), fc.integer({ min: 0, max: 1100 }), async (ntrec, fileBlocks) => {
      const vol = volume(ntrec);
      const { chunks, blocks } = content(vol, fileBlocks);
      const before = snapshot(chunks);
      const r = await run(chunks, vol, { batchBytes: 64 * 1024 });
      const ends = checkImage(r.image, before, blocks, vol);
      assert.equal(ends, blocks % ntrec === 0 ? ntrec : ntrec - (blocks % ntrec));
    }), { numRuns: 15 });
  });

  test('small batches: many sink writes, same image, onWritten grows to the total', async () => {
    const vol = volume(10);
    const big = content(vol, 600);
    const one = await run(big.chunks, vol);
    assert.equal(one.sink.writes.length, 1, 'default batch: everything in one write');
    const again = content(vol, 600);
    const many = await run(again.chunks, vol, { batchBytes: 1, sink: new MemorySink(1) });
    assert.ok(many.sink.writes.length > 1, `${many.sink.writes.length} writes`);
    assert.deepEqual(many.image, one.image);
    for (let i = 1; i < many.written.length; i++) assert.ok(many.written[i]! > many.written[i - 1]!);
    assert.deepEqual(many.written, many.sink.writes.map((_, i) => many.sink.writes.slice(0, i + 1).reduce((s, w) => s + w.length, 0)));
  });

  test('several headers inside one part are all numbered', async () => {
    const vol = volume(4);
    const mk = (type: number, count: number, tapea = 0): Buffer => {
      const h = emptyHeader();
      h.type = type; h.inumber = 9; h.count = count; h.tapea = tapea; h.flags = 2; h.ntrec = 4;
      h.inode = inode(0o100644, 3 * 1024);
      h.addr.fill(1, 0, count);
      const b = Buffer.alloc(1024);
      encodeHeader(h, b);
      return b;
    };
    const part = Buffer.concat([mk(2, 2), patternBytes(2048, 1), mk(4, 1), patternBytes(1024, 2)]);
    const chunk: TapeChunk<Buffer> = { parts: [part], headers: [0, 3], objects: [[9, 0]] };
    const label = volumeLabel(vol);
    const r = await run([label, chunk], vol);
    assert.equal(r.image.readUInt32LE(1 * BLOCK + 16), 1);
    assert.equal(r.image.readUInt32LE(4 * BLOCK + 16), 4);
    assert.equal(wordSum(r.image, 1 * BLOCK), 84446);
    assert.equal(wordSum(r.image, 4 * BLOCK), 84446);
    assert.deepEqual(r.inodes, [[9, 1024]]);
    assert.equal(r.image.length, 8 * BLOCK);
    assert.deepEqual(r.image.subarray(2 * BLOCK, 4 * BLOCK), patternBytes(2048, 1));
  });

  test('a sink failure makes the writer fail', async () => {
    const vol = volume(10);
    const { chunks } = content(vol, 5);
    const sink = new MemorySink(0, 0);
    const w = new TapeWriter({ sink, volume: vol, batchBytes: 1 });
    w.on('error', () => { /* observed through finished() */ });
    for (const c of chunks) w.write(c);
    w.end();
    await assert.rejects(finished(w), /disk on fire/);
  });

  test('two writes in flight: the second fails while the first one\'s onFlushed is awaited (no unhandled rejection)', async () => {
    const vol = volume(10);
    const { chunks } = content(vol, 5);
    let calls = 0;
    const sink: TapeSink = {
      name: 'two', identity: null, concurrentWrites: 2,
      // The first write lands; the second fails at once, while the writer still awaits the first's checkpoint.
      write: async () => { if (calls++ === 1) throw new Error('disk on fire'); },
      commit: async () => undefined, abort: async () => undefined,
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const w = new TapeWriter({
        sink, volume: vol, batchBytes: 1,
        onFlushed: () => new Promise((r) => setTimeout(r, 30)), // a slow checkpoint
      });
      w.on('error', () => { /* observed through finished() */ });
      for (const c of chunks) w.write(c);
      w.end();
      await assert.rejects(finished(w), /disk on fire/);
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  test('decode-dump.py reads the image: every header where expected, nothing else', async (t) => {
    const vol = volume(10);
    const { chunks, blocks } = content(vol, 520);
    const r = await run(chunks, vol);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapdump-tw-'));
    try {
      const file = path.join(dir, 'image.dump');
      fs.writeFileSync(file, r.image);
      const out = runDecodeTool(file, '--maps', '--dirs', '--xattr');
      if (out === null) { t.skip('python3 / decode-dump.py not available'); return; }
      assert.doesNotMatch(out, /not a header/);
      const headers = parseDecoded(out);
      assert.deepEqual(headers.map((h) => h.tapea), headers.map((h) => h.block));
      assert.deepEqual(headers.filter((h) => h.type !== 'TS_END').map((h) => h.block), walkImage(r.image).filter((h) => h.type !== 5).map((h) => h.block));
      assert.equal(headers.filter((h) => h.type === 'TS_END').length, r.image.length / BLOCK - blocks);
      assert.deepEqual(headers.find((h) => h.type === 'TS_CLRI')!.mapInodes, [2, 3, 4, 5]);
      assert.deepEqual(headers.find((h) => h.ino === 2 && h.type === 'TS_INODE')!.dirEntries!.map((e) => e.name), ['.', '..', 'empty', 'big', 'sparse']);
      assert.deepEqual(headers.filter((h) => h.ino === 4).map((h) => h.type), ['TS_INODE', 'TS_ADDR', 'TS_INODE']);
      assert.match(out, new RegExp(`summary: ${r.image.length / BLOCK} blocks`));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
