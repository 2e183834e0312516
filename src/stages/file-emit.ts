/**
 * Phase IV: every non-directory in ascending inode order. Objects are cut into read tasks
 * (many small files per task, big files in chunks of whole headers), read and encoded by the
 * worker pool in parallel, and put back in order for the tape writer.
 */
import { TP_BSIZE, TP_NINDIR } from '../format/constants.js';
import type { TapeChunk, TapePart } from '../format/object-headers.js';
import type { VolumeInfo } from '../format/volume.js';
import { orderedMap } from '../pipeline/ordered-map.js';
import { SlotPool } from '../pipeline/slot-pool.js';
import { TAPE_WRITER_MAX_HELD } from '../pipeline/tape-writer.js';
import { COLS, Col, ItemBits, ItemKind, type ReadNote, type ReadResult, type ReadTask } from '../workers/read-protocol.js';
import type { ReadRunner } from '../workers/reader.js';
import type { DumpPlan } from './traverse.js';
import { ROW, type EntryTable } from './entry-table.js';

export interface FileEmitOptions {
  /** Runs the read tasks (src/workers/reader.ts). */
  pool: Pick<ReadRunner, 'run'>;
  vol: VolumeInfo;
  /** Tasks in flight. */
  concurrency: number;
  /** Bytes of file data per task; big files are cut into chunks of this size. */
  taskBytes?: number;
  /** Most objects per task. */
  taskItems?: number;
  /**
   * Large files are not read here: the sink copies their data in the kernel and only their
   * headers are made by the workers (for sinks that can, i.e. files).
   */
  copyLargeFiles?: boolean;
  signal?: AbortSignal;
  onNotes?: (notes: ReadNote[]) => void;
  onData?: (bytes: number, objects: number) => void;
}

const HEADER_SPAN = TP_NINDIR * TP_BSIZE; // file bytes one header describes
/** File bytes per task when the kernel copies the data (the task only makes headers). */
const COPY_CHUNK = 32 * HEADER_SPAN;

interface PlannedItem { id: number; offset: number; length: number; bits: number }

export function toTask(vol: VolumeInfo, t: EntryTable, items: PlannedItem[], slot: SharedArrayBuffer): ReadTask {
  const rows = new Float64Array(items.length * COLS);
  const paths: string[] = [];
  let rawPaths: Record<number, Uint8Array> | undefined;
  items.forEach((it, i) => {
    const r = i * COLS;
    rows.set(t.rows.subarray(it.id * ROW, it.id * ROW + COLS), r);
    rows[r + Col.offset] = it.offset;
    rows[r + Col.length] = it.length;
    rows[r + Col.bits] = it.bits | (rows[r + Col.bits]! & (ItemBits.Sparse | ItemBits.Junction));
    const p = t.path(it.id);
    if (typeof p === 'string') paths.push(p);
    else { paths.push(''); (rawPaths ??= {})[i] = p; }
  });
  return { vol, rows, paths: paths.join('\0'), rawPaths, slot };
}

/** The tasks of the file phase, in tape order. */
export function* planTasks(t: EntryTable, ids: Int32Array, taskBytes: number, taskItems: number, copyLargeFiles = false): Generator<PlannedItem[]> {
  // Chunks cover whole headers so a header's blocks never straddle two tasks.
  const chunk = Math.max(HEADER_SPAN, Math.floor(taskBytes / HEADER_SPAN) * HEADER_SPAN);
  let batch: PlannedItem[] = [];
  let batchBytes = 0;
  for (const id of ids) {
    const isFile = t.get(id, Col.kind) === ItemKind.File;
    const size = isFile ? t.get(id, Col.size) : 0;
    if (size > chunk) {
      if (batch.length) { yield batch; batch = []; batchBytes = 0; }
      // Sparse files are read (holes must be found); others may be copied by the kernel.
      const copy = copyLargeFiles && (t.get(id, Col.bits) & ItemBits.Sparse) === 0;
      const span = copy ? COPY_CHUNK : chunk;
      for (let off = 0; off < size; off += span) {
        const bits = (off === 0 ? ItemBits.First : 0) | (off + span >= size ? ItemBits.Last : 0) | (copy ? ItemBits.HeadersOnly : 0);
        yield [{ id, offset: off, length: Math.min(span, size - off), bits }];
      }
      continue;
    }
    if (batch.length && (batch.length >= taskItems || batchBytes + size > taskBytes)) {
      yield batch; batch = []; batchBytes = 0;
    }
    batch.push({ id, offset: 0, length: size, bits: ItemBits.First | ItemBits.Last });
    batchBytes += size;
  }
  if (batch.length) yield batch;
}

/** Bytes a task can need beyond its file data: headers and block padding for every item. */
export function slotSizeFor(taskBytes: number, taskItems: number): number {
  return taskBytes + 2 * taskItems * TP_BSIZE + 2 * TP_BSIZE + 64 * 1024;
}

export async function* fileEmit(plan: DumpPlan, opts: FileEmitOptions): AsyncGenerator<TapeChunk> {
  const taskBytes = opts.taskBytes ?? 1 << 20;
  const taskItems = opts.taskItems ?? 256;
  // Slots: the tasks in flight, the chunks the writer may hold before it must write, and slack.
  const slots = new SlotPool(opts.concurrency + TAPE_WRITER_MAX_HELD + 2, slotSizeFor(taskBytes, taskItems));
  const tasks = planTasks(plan.table, plan.others, taskBytes, taskItems, opts.copyLargeFiles);
  const run = async (items: PlannedItem[]) => {
    const slot = await slots.acquire(opts.signal);
    try {
      return { slot, items, result: await opts.pool.run(toTask(opts.vol, plan.table, items, slots.slots[slot]!), { signal: opts.signal }) };
    } catch (e) {
      slots.release(slot);
      throw e;
    }
  };
  const cost = (items: PlannedItem[]) => items.reduce((s, i) => s + i.length, 0) + TP_BSIZE * items.length;
  const window = { concurrency: opts.concurrency, maxBytes: Math.max(16 << 20, taskBytes * opts.concurrency), cost, signal: opts.signal };
  for await (const { slot, items, result: r } of orderedMap(tasks, run, window)) {
    if (r.notes.length) opts.onNotes?.(r.notes);
    const objects: Array<[number, number]> = [];
    for (let i = 0; i < r.objects.length; i += 2) objects.push([r.objects[i]!, r.objects[i + 1]!]);
    opts.onData?.(r.dataBytes, objects.length);
    if (r.buffer) {
      slots.release(slot);
      yield { parts: [Buffer.from(r.buffer, 0, r.length)], headers: Array.from(r.headers), objects };
    } else if (items.length === 1 && (items[0]!.bits & ItemBits.HeadersOnly)) {
      yield withCopies(plan.table, items[0]!, Buffer.from(slots.slots[slot]!, 0, r.length), r, objects, () => slots.release(slot));
    } else {
      yield { parts: [Buffer.from(slots.slots[slot]!, 0, r.length)], headers: Array.from(r.headers), objects, release: () => slots.release(slot) };
    }
  }
}

/**
 * The chunk of a headers-only task: each header (from the worker's buffer) followed by the
 * data it announces as a range the sink copies from the file, then any EA records.
 */
function withCopies(t: EntryTable, item: PlannedItem, buf: Buffer, r: ReadResult, objects: Array<[number, number]>, release: () => void): TapeChunk {
  const path = t.path(item.id);
  const nblocks = Math.ceil(item.length / TP_BSIZE);
  const fileHeaders = Math.max(1, Math.ceil(nblocks / TP_NINDIR));
  const parts: TapePart[] = [];
  const headers: number[] = [];
  let block = 0;
  for (let h = 0; h < fileHeaders; h++) {
    parts.push(buf.subarray(h * TP_BSIZE, (h + 1) * TP_BSIZE));
    headers.push(block);
    const start = h * HEADER_SPAN;
    const length = Math.min(HEADER_SPAN, item.length - start);
    const blocks = Math.ceil(length / TP_BSIZE);
    if (blocks > 0) parts.push({ copy: { path, offset: item.offset + start, length, blocks } });
    block += 1 + blocks;
  }
  // EA records (if any) follow the file headers in the worker's buffer.
  const eaStart = fileHeaders * TP_BSIZE;
  if (r.length > eaStart) {
    parts.push(buf.subarray(eaStart, r.length));
    for (let i = fileHeaders; i < r.headers.length; i++) headers.push(block + r.headers[i]! - fileHeaders);
  }
  return { parts, headers, objects, release };
}
