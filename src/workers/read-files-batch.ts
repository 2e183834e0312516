/**
 * The main thread's reader: the same output as readFiles (read-files.ts), byte for byte, but the
 * system calls of the small whole files of a task run on the libuv thread pool
 * (sysx.readFilesAsync, native/read-batch.c). On the main thread those calls cost about as much
 * as all the encoding; on the pool they overlap it and the directory phase, and the main thread
 * only lays the output out and writes the headers.
 *
 * The layout is fixed before the pool reads, so the data lands where it stays: each batched file
 * gets its header block and its data blocks, as readFiles would size it without EAs. Everything
 * else (symbolic links, sparse files, parts of big files, headers-only items) is prepared and
 * written by readFiles' own code. A batched file the pool could not read (vanished, unreadable,
 * any failing call) is read again by that code, which reports it as it always has; it can only
 * come out shorter than planned, so later files move back, never over data not yet placed. Only
 * EA records make the output longer than planned: then the planned data is copied aside first.
 */
import * as sysx from '../native/sysx.js';
import { READ_PLAN_FIELDS, READ_RESULT_FIELDS, ReadField as R } from '../native/sysx.js';
import { RecordType, TP_BSIZE, TP_NINDIR } from '../format/constants.js';
import { ItemKind, type ReadNote, type ReadResult, type ReadTask } from './read-protocol.js';
import {
  itemAt, noteIfChanged, Output, prepare, readFiles, resultOf, templateFor, writeItem, writeObject, writeXattrRecords, type Item,
} from './read-files.js';

/** A file the pool can read whole into the slot: one header, plain data blocks. */
function batchable(item: Item): boolean {
  return item.kind === ItemKind.File && item.first && item.last && !item.sparse && !item.headersOnly && !item.junction
    && item.offset === 0 && item.length <= TP_NINDIR * TP_BSIZE;
}

/** Every item's path, NUL-terminated, as the bytes fs would use. */
function pathBytes(task: ReadTask, paths: string[]): Buffer {
  if (!task.rawPaths) return Buffer.from(`${task.paths}\0`);
  const parts: Uint8Array[] = [];
  const nul = Buffer.alloc(1);
  paths.forEach((p, i) => parts.push(task.rawPaths![i] ?? Buffer.from(p), nul));
  return Buffer.concat(parts);
}

export async function readFilesBatched(task: ReadTask): Promise<ReadResult> {
  const paths = task.paths.split('\0');
  const n = paths.length;
  const items: Item[] = new Array(n);
  let batched = 0;
  for (let i = 0; i < n; i++) {
    items[i] = itemAt(task.rows, i, task.rawPaths?.[i] ?? paths[i]!);
    if (batchable(items[i]!)) batched++;
  }
  if (batched === 0) return readFiles(task);

  // Layout (as readFiles sizes it, EAs of batched files aside), and each item's prepare notes,
  // kept by item so that the notes come out in readFiles' order.
  const tpl = templateFor(task.vol);
  const prepNotes: Array<ReadNote[] | undefined> = new Array(n);
  const prepareAt = (i: number): number => {
    const notes: ReadNote[] = [];
    const bytes = prepare(items[i]!, notes);
    if (notes.length) prepNotes[i] = notes;
    return bytes;
  };
  const plan = new Float64Array(n * READ_PLAN_FIELDS);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const item = items[i]!;
    if (batchable(item)) {
      plan[i * READ_PLAN_FIELDS] = total + TP_BSIZE;
      plan[i * READ_PLAN_FIELDS + 1] = item.length;
      total += TP_BSIZE + Math.ceil(item.length / TP_BSIZE) * TP_BSIZE;
    } else {
      plan[i * READ_PLAN_FIELDS + 1] = -1;
      total += prepareAt(i);
    }
  }
  let out = new Output(total, task.slot);
  const results = new Float64Array(n * READ_RESULT_FIELDS);
  await sysx.readFilesAsync(pathBytes(task, paths), plan, out.buf, results);

  // Batched files with EAs (and those to read again, which prepare as readFiles does).
  let grown = 0;
  for (let i = 0; i < n; i++) {
    if (plan[i * READ_PLAN_FIELDS + 1]! < 0) continue;
    const r = i * READ_RESULT_FIELDS;
    if (results[r + R.status] === 0 && results[r + R.xattrBytes] === 0) continue;
    const planned = TP_BSIZE + Math.ceil(items[i]!.length / TP_BSIZE) * TP_BSIZE;
    grown += prepareAt(i) - planned;
  }
  let src = out.buf;
  if (grown > 0) {
    src = Buffer.from(out.buf.subarray(0, total));
    out = new Output(total + grown, task.slot);
  }

  const notes: ReadNote[] = [];
  let dataBytes = 0;
  for (let i = 0; i < n; i++) {
    const item = items[i]!;
    const r = i * READ_RESULT_FIELDS;
    if (plan[i * READ_PLAN_FIELDS + 1]! < 0 || results[r + R.status] !== 0) {
      dataBytes += writeItem(out, tpl, item, notes);
      continue;
    }
    const from = plan[i * READ_PLAN_FIELDS]!;
    item.flags = results[r + R.flags]!;
    writeObject(out, tpl, item, Math.ceil(item.length / TP_BSIZE), null, RecordType.INODE, (_e, count, at) => {
      // Buffer.copy is a memmove: a move back over this file's own planned blocks is safe.
      if (src !== out.buf || at !== from) src.copy(out.buf, at, from, from + count * TP_BSIZE);
    });
    const bytes = results[r + R.bytes]!;
    dataBytes += bytes;
    noteIfChanged(notes, item, bytes < item.length, results[r + R.size]!, results[r + R.mtimeSec]!, results[r + R.mtimeNsec]!,
      results[r + R.ctimeSec]!, results[r + R.ctimeNsec]!);
    if (item.blobs.length) writeXattrRecords(out, tpl, item);
  }
  const all: ReadNote[] = [];
  for (const p of prepNotes) if (p) all.push(...p);
  all.push(...notes);
  return resultOf(out, dataBytes, all);
}
