/**
 * Phase IV: every non-directory in ascending inode order. Objects are cut into read tasks
 * (many small files per task, big files in chunks of whole headers), read and encoded by the
 * worker pool in parallel, and put back in order for the tape writer.
 */
import type { Piscina } from 'piscina';
import { TP_BSIZE, TP_NINDIR } from '../format/constants.js';
import type { TapeChunk, VolumeInfo } from '../format/object-headers.js';
import { orderedMap } from '../pipeline/ordered-map.js';
import { COLS, Col, ItemBits, ItemKind, type ReadNote, type ReadResult, type ReadTask } from '../workers/read-protocol.js';
import type { DumpEntry, DumpPlan } from './traverse.js';

export interface FileEmitOptions {
  pool: Piscina;
  vol: VolumeInfo;
  /** Tasks in flight. */
  concurrency: number;
  /** Bytes of file data per task; big files are cut into chunks of this size. */
  taskBytes?: number;
  /** Most objects per task. */
  taskItems?: number;
  signal?: AbortSignal;
  onNotes?: (notes: ReadNote[]) => void;
  onData?: (bytes: number, objects: number) => void;
}

const HEADER_SPAN = TP_NINDIR * TP_BSIZE; // file bytes one header describes

interface PlannedItem { entry: DumpEntry; offset: number; length: number; bits: number }

function kindOf(e: DumpEntry): ItemKind {
  return e.kind === 'file' ? ItemKind.File : e.kind === 'symlink' ? ItemKind.Symlink : ItemKind.Other;
}

function toTask(vol: VolumeInfo, items: PlannedItem[]): ReadTask {
  const rows = new Float64Array(items.length * COLS);
  const paths: Array<string | Uint8Array> = [];
  items.forEach((it, i) => {
    const e = it.entry;
    const r = i * COLS;
    rows[r + Col.kind] = kindOf(e); rows[r + Col.ino] = e.ino; rows[r + Col.offset] = it.offset; rows[r + Col.length] = it.length;
    rows[r + Col.bits] = it.bits | (e.sparse ? ItemBits.Sparse : 0);
    rows[r + Col.mode] = e.mode; rows[r + Col.nlink] = e.nlink; rows[r + Col.uid] = e.uid; rows[r + Col.gid] = e.gid;
    rows[r + Col.size] = e.size; rows[r + Col.blocks] = e.blocks; rows[r + Col.rdev] = e.rdev;
    rows[r + Col.atime] = e.atime; rows[r + Col.atimeUsec] = e.atimeUsec; rows[r + Col.mtime] = e.mtime;
    rows[r + Col.mtimeUsec] = e.mtimeUsec; rows[r + Col.ctime] = e.ctime; rows[r + Col.ctimeUsec] = e.ctimeUsec;
    rows[r + Col.mtimeSec] = e.mtimeSec; rows[r + Col.mtimeNsec] = e.mtimeNsec; rows[r + Col.ctimeSec] = e.ctimeSec; rows[r + Col.ctimeNsec] = e.ctimeNsec;
    paths.push(e.path);
  });
  return { vol, rows, paths };
}

/** The tasks of the file phase, in tape order. */
export function* planTasks(entries: readonly DumpEntry[], taskBytes: number, taskItems: number): Generator<PlannedItem[]> {
  // Chunks cover whole headers so a header's blocks never straddle two tasks.
  const chunk = Math.max(HEADER_SPAN, Math.floor(taskBytes / HEADER_SPAN) * HEADER_SPAN);
  let batch: PlannedItem[] = [];
  let batchBytes = 0;
  for (const e of entries) {
    if (e.kind === 'file' && e.size > chunk) {
      if (batch.length) { yield batch; batch = []; batchBytes = 0; }
      for (let off = 0; off < e.size; off += chunk) {
        const bits = (off === 0 ? ItemBits.First : 0) | (off + chunk >= e.size ? ItemBits.Last : 0);
        yield [{ entry: e, offset: off, length: Math.min(chunk, e.size - off), bits }];
      }
      continue;
    }
    const size = e.kind === 'file' ? e.size : 0;
    if (batch.length && (batch.length >= taskItems || batchBytes + size > taskBytes)) {
      yield batch; batch = []; batchBytes = 0;
    }
    batch.push({ entry: e, offset: 0, length: size, bits: ItemBits.First | ItemBits.Last });
    batchBytes += size;
  }
  if (batch.length) yield batch;
}

export async function* fileEmit(plan: DumpPlan, opts: FileEmitOptions): AsyncGenerator<TapeChunk> {
  const taskBytes = opts.taskBytes ?? 1 << 20;
  const tasks = planTasks(plan.others, taskBytes, opts.taskItems ?? 256);
  const run = (items: PlannedItem[]) => opts.pool.run(toTask(opts.vol, items), { signal: opts.signal }) as Promise<ReadResult>;
  const cost = (items: PlannedItem[]) => items.reduce((s, i) => s + i.length, 0) + TP_BSIZE * items.length;
  const window = { concurrency: opts.concurrency, maxBytes: Math.max(16 << 20, taskBytes * opts.concurrency), cost, signal: opts.signal };
  for await (const r of orderedMap(tasks, run, window)) {
    if (r.notes.length) opts.onNotes?.(r.notes);
    const objects: Array<[number, number]> = [];
    for (let i = 0; i < r.objects.length; i += 2) objects.push([r.objects[i]!, r.objects[i + 1]!]);
    opts.onData?.(r.dataBytes, objects.length);
    yield { parts: [Buffer.from(r.buffer, 0, r.length)], headers: Array.from(r.headers), objects };
  }
}
