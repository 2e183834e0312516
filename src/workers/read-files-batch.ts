/**
 * The main thread's reader: the same output as readFiles (read-files.ts), byte for byte, with
 * the small whole files of a task read and their headers encoded by one native call
 * (sysx.readFileBatch, native/read-batch.c) instead of six fs calls and a JavaScript header
 * each; those cost the main thread about 20 µs per file, most of a small level 1's file phase.
 *
 * The layout is fixed before the call, so each batched file lands where it stays: its header
 * block, then its data blocks, as readFiles sizes it without EAs. Everything else (symbolic
 * links, sparse files, parts of big files, headers-only items, other objects) is prepared and
 * written by readFiles' own code. A batched file the call could not read (vanished,
 * unreadable, any failing call) is read again by that code, which reports it as it always has;
 * it can only come out shorter than planned, so later files move back, never over data not
 * yet placed. Only EA records make the output longer than planned: then the planned output is
 * copied aside first.
 */
import * as sysx from '../native/sysx.js';
import { READ_PLAN_FIELDS, READ_RESULT_FIELDS, ReadField as R } from '../native/sysx.js';
import { RecordType, TP_BSIZE, TP_NINDIR } from '../format/constants.js';
import type { HeaderTemplate } from '../format/header-template.js';
import { COLS, Col, ItemBits, ItemKind, type ReadNote, type ReadResult, type ReadTask } from './read-protocol.js';
import {
  itemAt, note, Output, prepare, readFiles, resultOf, templateFor, writeItem, writeXattrRecords, type Item,
} from './read-files.js';

const WHOLE = ItemBits.First | ItemBits.Last;
const SPECIAL = ItemBits.Sparse | ItemBits.HeadersOnly | ItemBits.Junction;

/** Whether row i is a file the native call reads whole: one header, plain data blocks. */
function batchable(rows: Float64Array, i: number): boolean {
  const r = i * COLS;
  const bits = rows[r + Col.bits]!;
  return rows[r + Col.kind] === ItemKind.File && (bits & WHOLE) === WHOLE && (bits & SPECIAL) === 0
    && rows[r + Col.offset] === 0 && rows[r + Col.length]! <= TP_NINDIR * TP_BSIZE;
}

/** Every item's path, NUL-terminated, as the bytes fs would use. */
function pathBytes(task: ReadTask, paths: string[]): Buffer {
  if (!task.rawPaths) return Buffer.from(`${task.paths}\0`);
  const parts: Uint8Array[] = [];
  const nul = Buffer.alloc(1);
  paths.forEach((p, i) => parts.push(task.rawPaths![i] ?? Buffer.from(p), nul));
  return Buffer.concat(parts);
}

const fileTemplates = new WeakMap<HeaderTemplate, Buffer>();

function fileTemplate(tpl: HeaderTemplate): Buffer {
  let t = fileTemplates.get(tpl);
  if (!t) fileTemplates.set(tpl, (t = tpl.withType(RecordType.INODE)));
  return t;
}

/** Bytes of a batched file in the output, EAs aside: its header and data blocks. */
function plannedBytes(length: number): number {
  return TP_BSIZE + Math.ceil(length / TP_BSIZE) * TP_BSIZE;
}

export function readFilesBatched(task: ReadTask): ReadResult {
  const { rows } = task;
  const paths = task.paths.split('\0');
  const n = paths.length;
  const plan = new Float64Array(n * READ_PLAN_FIELDS);
  let batched = 0;
  for (let i = 0; i < n; i++) if (batchable(rows, i)) batched++;
  if (batched === 0) return readFiles(task);

  // Items are made only where JavaScript handles something; each keeps its prepare notes, so
  // that the notes come out in readFiles' order.
  const tpl = templateFor(task.vol);
  const items: Array<Item | undefined> = new Array(n);
  const prepNotes: Array<ReadNote[] | undefined> = new Array(n);
  const itemOf = (i: number): Item => (items[i] ??= itemAt(rows, i, task.rawPaths?.[i] ?? paths[i]!));
  const prepareAt = (i: number): number => {
    const notes: ReadNote[] = [];
    const bytes = prepare(itemOf(i), notes);
    if (notes.length) prepNotes[i] = notes;
    return bytes;
  };
  let total = 0;
  for (let i = 0; i < n; i++) {
    if (batchable(rows, i)) {
      const length = rows[i * COLS + Col.length]!;
      plan[i * READ_PLAN_FIELDS] = total;
      plan[i * READ_PLAN_FIELDS + 1] = length;
      total += plannedBytes(length);
    } else {
      plan[i * READ_PLAN_FIELDS + 1] = -1;
      total += prepareAt(i);
    }
  }
  let out = new Output(total, task.slot);
  const results = new Float64Array(n * READ_RESULT_FIELDS);
  sysx.readFileBatch(pathBytes(task, paths), plan, out.buf, results, fileTemplate(tpl), rows);

  // Batched files with EAs, and those to read again (prepared as readFiles does).
  let grown = 0;
  for (let i = 0; i < n; i++) {
    if (plan[i * READ_PLAN_FIELDS + 1]! < 0) continue;
    const r = i * READ_RESULT_FIELDS;
    if (results[r + R.status] === 0 && results[r + R.xattrBytes] === 0) continue;
    grown += prepareAt(i) - plannedBytes(plan[i * READ_PLAN_FIELDS + 1]!);
  }
  let src = out.buf;
  if (grown > 0) {
    src = Buffer.from(out.buf.subarray(0, total));
    out = new Output(total + grown, task.slot);
  }

  const notes: ReadNote[] = [];
  let dataBytes = 0;
  for (let i = 0; i < n; i++) {
    const r = i * READ_RESULT_FIELDS;
    const length = plan[i * READ_PLAN_FIELDS + 1]!;
    if (length < 0 || results[r + R.status] !== 0) {
      dataBytes += writeItem(out, tpl, itemOf(i), notes);
      continue;
    }
    // Header and data are in place, or behind a file that came out shorter (Buffer.copy is a memmove).
    const from = plan[i * READ_PLAN_FIELDS]!;
    const bytes = plannedBytes(length);
    if (src !== out.buf || out.pos !== from) src.copy(out.buf, out.pos, from, from + bytes);
    const row = i * COLS;
    out.objects.push(rows[row + Col.ino]!, out.block);
    out.headers.push(out.block);
    out.pos += bytes;
    const read = results[r + R.bytes]!;
    dataBytes += read;
    if (read < length || results[r + R.size] !== rows[row + Col.size] || results[r + R.mtimeSec] !== rows[row + Col.mtimeSec]
      || results[r + R.mtimeNsec] !== rows[row + Col.mtimeNsec] || results[r + R.ctimeSec] !== rows[row + Col.ctimeSec]
      || results[r + R.ctimeNsec] !== rows[row + Col.ctimeNsec]) {
      note(notes, itemOf(i), 'CHANGED', 'file changed as we read it', true);
    }
    const item = items[i];
    if (item?.blobs.length) {
      item.flags = results[r + R.flags]!;
      writeXattrRecords(out, tpl, item);
    }
  }
  const all: ReadNote[] = [];
  for (const p of prepNotes) if (p) all.push(...p);
  all.push(...notes);
  return resultOf(out, dataBytes, all);
}
