/**
 * Micro-benchmarks of the pure codec and the tape writer (tinybench). Each task does one
 * operation per iteration on pre-built inputs; the table shows operations per second, mean
 * latency and, for byte-moving tasks, throughput in MB/s (10^6 bytes).
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Bench } from 'tinybench';
import { NFS_MAGIC, RecordType, S_IFREG, DT_REG, TP_BSIZE } from '../src/format/constants.js';
import { decodeDirectory, encodeDirectory, encodeDirectoryFrom, type DirEntry } from '../src/format/directory.js';
import { checksumOk, decodeHeader, emptyHeader, encodeHeader, headerWordSum, patchTapea, type DumpInode } from '../src/format/header.js';
import { HeaderTemplate } from '../src/format/header-template.js';
import { inodeFromStat } from '../src/format/inode-fields.js';
import { objectChunk, type TapeChunk } from '../src/format/object-headers.js';
import { baseHeader, type VolumeInfo } from '../src/format/volume.js';
import { TapeWriter } from '../src/pipeline/tape-writer.js';
import { EntryTable, XCol } from '../src/stages/entry-table.js';
import { directorySource, directoryTable } from '../src/stages/directory-emit.js';
import { encodeDirectory as encodeNativeDirectory } from '../src/native/sysx.js';
import { Col } from '../src/workers/read-protocol.js';
import type { TapeSink } from '../src/tape/sink.js';
import { KeyStream, fmt, log, parseArgs, renderTable } from './util.js';

const vol: VolumeInfo = {
  date: 1_700_000_000, ddate: 0, volume: 1, level: 0, label: 'none', filesys: '/var/tmp/snapdump-bench/small',
  dev: '/dev/vda', host: 'benchhost', ntrec: 10, maxino: 200_000,
};

function sampleInode(size: number): DumpInode {
  return {
    mode: S_IFREG | 0o644, nlink: 1, size, atime: 1_700_000_000, atimeUsec: 123456, mtime: 1_700_000_001,
    mtimeUsec: 654321, ctime: 1_700_000_002, ctimeUsec: 111111, rdev: 0, flags: 0, blocks: Math.ceil(size / 512),
    gen: 0, uid: 1000, gid: 1000, ouid: 1000, ogid: 1000,
  };
}

/** A null sink: accepts writes and discards them (measures everything up to the write syscall). */
function nullSink(): TapeSink {
  return { name: 'null', identity: null, write: async () => undefined, commit: async () => undefined, abort: async () => undefined };
}

interface MicroRow { name: string; opsPerSecond: number; meanMicros: number; rmePercent: number; samples: number; bytesPerOp: number; mbPerSecond: number | null }

export async function micro(argv: readonly string[] = []): Promise<MicroRow[]> {
  const args = parseArgs(argv, ['time']);
  const time = Number(args.values.get('time') ?? (args.flags.has('quick') ? 150 : 600));
  const bench = new Bench({ time, warmupTime: Math.min(200, time / 2) });
  const bytesPerOp = new Map<string, number>();
  const add = (name: string, fn: () => unknown, bytes = 0) => { bench.add(name, fn); if (bytes) bytesPerOp.set(name, bytes); };

  // Header fixtures: a TS_INODE of a 16 KiB file (16 blocks present).
  const h = baseHeader(vol, RecordType.INODE);
  h.inumber = 4242; h.inode = sampleInode(16384); h.count = 16; h.addr.fill(1, 0, 16);
  const hbuf = Buffer.alloc(TP_BSIZE);
  encodeHeader(h, hbuf, 0);
  let sink = 0;

  add('encodeHeader (TS_INODE, 16 blocks)', () => { encodeHeader(h, hbuf, 0); }, TP_BSIZE);
  // The file workers' path: a per-volume template copied and patched per header.
  const tpl = new HeaderTemplate(vol);
  const tbuf = Buffer.alloc(TP_BSIZE);
  add('HeaderTemplate.write (TS_INODE, 16 blocks; the file workers\' path)', () => {
    tpl.write(tbuf, 0, RecordType.INODE, 4242, h.inode, 16, null, 0);
  }, TP_BSIZE);
  add('baseHeader + encodeHeader (general path)', () => {
    const x = baseHeader(vol, RecordType.INODE);
    x.inumber = 4242; x.inode = h.inode; x.count = 16; x.addr.fill(1, 0, 16);
    encodeHeader(x, hbuf, 0);
  }, TP_BSIZE);
  add('decodeHeader + checksumOk', () => {
    if (!checksumOk(hbuf, 0, 'le')) throw new Error('checksum');
    sink += decodeHeader(hbuf, 0, 'le').count;
  }, TP_BSIZE);
  add('headerWordSum (checksum alone)', () => { sink += headerWordSum(hbuf, 0, true); }, TP_BSIZE);
  let tapea = 0;
  add('patchTapea', () => { patchTapea(hbuf, 0, ++tapea); });
  add('emptyHeader (allocation)', () => { sink += emptyHeader().magic === NFS_MAGIC ? 1 : 0; });
  const st = { mode: S_IFREG | 0o644, nlink: 1, uid: 1000, gid: 1000, rdev: 0, size: 8192, blocks: 16, atimeSec: 1_700_000_000, atimeNsec: 123_456_789, mtimeSec: 1_700_000_001, mtimeNsec: 123_456_789, ctimeSec: 1_700_000_002, ctimeNsec: 123_456_789 };
  add('inodeFromStat (per walked entry)', () => { sink += inodeFromStat(st, []).mtime; });

  // Directories: 100 entries with names like tar-style file names.
  const entries: DirEntry[] = [];
  entries.push({ ino: 5, type: 4, name: Buffer.from('.') }, { ino: 2, type: 4, name: Buffer.from('..') });
  for (let i = 0; entries.length < 100; i++) entries.push({ ino: 1000 + i, type: DT_REG, name: Buffer.from(`f${String(i).padStart(6, '0')}.bin`) });
  const dirData = encodeDirectory(entries);
  add('encodeDirectory (100 entries)', () => { sink += encodeDirectory(entries).length; }, dirData.length);
  // The same directory as the backup encodes it: from the walk's entry table, names as bytes.
  const table = new EntryTable(128);
  const dirId = table.add();
  table.set(dirId, Col.mode, 0o040755); table.set(dirId, Col.ino, 5); table.set(dirId, XCol.childStart, 0);
  const arena = table.addNameBytes(Buffer.concat(entries.slice(2).map((e) => Buffer.concat([e.name as Buffer, Buffer.of(0)]))));
  let at = arena;
  for (const e of entries.slice(2)) {
    const id = table.add();
    table.set(id, Col.mode, S_IFREG | 0o644); table.set(id, Col.ino, e.ino); table.set(id, XCol.parent, dirId);
    table.addLink(id, at, (e.name as Buffer).length, false);
    at += (e.name as Buffer).length + 1;
  }
  table.set(dirId, XCol.childCount, table.linkCount);
  if (!encodeDirectoryFrom(directorySource(table, dirId)).equals(encodeDirectory([{ ...entries[0]!, ino: 5 }, { ...entries[1]!, ino: 5 }, ...entries.slice(2)]))) throw new Error('directorySource differs');
  add('encodeDirectoryFrom(directorySource) (100 entries from the entry table, in TypeScript)', () => { sink += encodeDirectoryFrom(directorySource(table, dirId)).length; }, dirData.length);
  // The backup's path: the same directory encoded in C straight from the table's arrays.
  const nativeTable = directoryTable(table);
  const nativeOut = Buffer.alloc(dirData.length);
  add('native encodeDirectory (100 entries from the entry table; the backup\'s path)', () => { sink += encodeNativeDirectory(nativeOut, 0, nativeTable, 0, table.linkCount, 5, 5); }, dirData.length);
  add('decodeDirectory (100 entries)', () => { sink += decodeDirectory(dirData, dirData.length).entries.length; }, dirData.length);

  // objectChunk of a 1 MiB file (1,024 data blocks → TS_INODE + TS_ADDR).
  const mib = new KeyStream('micro', 1 << 20).next();
  const inode1m = sampleInode(1 << 20);
  add('objectChunk (1 MiB file, headers only; data by reference)', () => {
    sink += objectChunk(vol, 77, inode1m, 1024, mib, null).parts.length;
  }, (1 << 20) + 2 * TP_BSIZE);

  // TapeWriter: record assembly (c_tapea patching, batching, TS_END) into a null sink.
  // (a) one chunk per small object as the directory phase yields them: 1 header + 8 KiB.
  // (b) one 1 MiB chunk per worker task as the file phase yields them (≈ 120 objects each).
  const smallChunks: Array<TapeChunk<Buffer>> = [];
  const data8k = mib.subarray(0, 8192);
  for (let i = 0; i < 2000; i++) smallChunks.push(objectChunk(vol, 100 + i, sampleInode(8192), 8, data8k, null));
  const smallBytes = smallChunks.reduce((s, c) => s + c.parts.reduce((t, p) => t + p.length, 0), 0);
  const taskChunks: Array<TapeChunk<Buffer>> = [];
  for (let t = 0; t < 32; t++) {
    // Emulates a worker result: one buffer, 116 objects of 9 blocks (header + 8 KiB) each.
    const objects = 116;
    const buf = Buffer.allocUnsafe(objects * 9 * TP_BSIZE);
    const headers: number[] = [];
    const objs: Array<[number, number]> = [];
    for (let o = 0; o < objects; o++) {
      const c = objectChunk(vol, 10_000 + t * objects + o, sampleInode(8192), 8, data8k, null);
      let pos = o * 9 * TP_BSIZE;
      for (const p of c.parts) { p.copy(buf, pos); pos += p.length; }
      headers.push(o * 9); objs.push([10_000 + t * objects + o, o * 9]);
    }
    taskChunks.push({ parts: [buf], headers, objects: objs });
  }
  const taskBytes = taskChunks.reduce((s, c) => s + c.parts[0]!.length, 0);
  const writeAll = async (chunks: TapeChunk[]) => {
    const w = new TapeWriter({ sink: nullSink(), volume: vol, onInode: () => undefined });
    await pipeline(Readable.from(chunks), w);
  };
  add(`TapeWriter ← ${smallChunks.length} chunks of 1 object (9 KiB), null sink`, () => writeAll(smallChunks), smallBytes);
  add(`TapeWriter ← ${taskChunks.length} task chunks of ~1 MiB, null sink`, () => writeAll(taskChunks), taskBytes);

  log(`micro: ${bench.tasks.length} tasks, ${time} ms each ...`);
  await bench.run();
  const rows: MicroRow[] = [];
  for (const task of bench.tasks) {
    const r = task.result;
    if (r.state !== 'completed') {
      process.stdout.write(`${task.name}: ${r.state}${r.state === 'errored' ? ` ${r.error.message}` : ''}\n`);
      continue;
    }
    const bytes = bytesPerOp.get(task.name) ?? 0;
    // ops/s from the mean latency (so the two columns agree; tinybench's throughput.mean is the
    // mean of per-sample rates, which noisy samples inflate).
    const ops = 1000 / r.latency.mean;
    rows.push({
      name: task.name, opsPerSecond: ops, meanMicros: r.latency.mean * 1000, rmePercent: r.latency.rme,
      samples: r.latency.samplesCount, bytesPerOp: bytes, mbPerSecond: bytes ? (bytes * ops) / 1e6 : null,
    });
  }
  process.stdout.write('\n' + renderTable(
    ['micro-benchmark', 'ops/s', 'mean µs', '± %', 'samples', 'MB/s'],
    rows.map((r) => [r.name, fmt(r.opsPerSecond), fmt(r.meanMicros), fmt(r.rmePercent, 1), String(r.samples), r.mbPerSecond === null ? '–' : fmt(r.mbPerSecond)]),
  ) + '\n\n');
  if (sink === 0.5) process.stdout.write(''); // keep results observable so nothing is optimised away
  return rows;
}
