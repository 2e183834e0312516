/**
 * Phase IV: every non-directory in ascending inode order. Objects are cut into read tasks
 * (many small files per task, big files in chunks of whole headers), read and encoded by the
 * worker pool in parallel, and put back in order for the tape writer.
 */
import type { Piscina } from 'piscina';
import { TP_BSIZE, TP_NINDIR } from '../format/constants.js';
import type { TapeChunk, VolumeInfo } from '../format/object-headers.js';
import { orderedMap } from '../pipeline/ordered-map.js';
import type { ReadItem, ReadNote, ReadResult, ReadTask } from '../workers/read-files.js';
import type { DumpEntry, DumpPlan } from './traverse.js';

export interface FileEmitOptions {
  pool: Piscina;
  vol: VolumeInfo;
  /** Tasks in flight (default: 4 per worker thread). */
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

function itemFor(e: DumpEntry, offset: number, length: number, first: boolean, last: boolean): ReadItem {
  return {
    kind: e.kind === 'file' ? 'file' : e.kind === 'symlink' ? 'symlink' : 'other',
    path: e.path, ino: e.ino, inode: e.inode, offset, length, first, last, sparse: e.sparse,
    mtimeNs: e.mtimeNs, ctimeNs: e.ctimeNs,
  };
}

/** The tasks of the file phase, in tape order. */
export function* planTasks(entries: readonly DumpEntry[], taskBytes: number, taskItems: number): Generator<ReadItem[]> {
  // Chunks must cover whole headers so a chunk's headers never straddle two tasks.
  const chunk = Math.max(HEADER_SPAN, Math.floor(taskBytes / HEADER_SPAN) * HEADER_SPAN);
  let batch: ReadItem[] = [];
  let batchBytes = 0;
  for (const e of entries) {
    if (e.kind === 'file' && e.size > chunk) {
      if (batch.length) { yield batch; batch = []; batchBytes = 0; }
      for (let off = 0; off < e.size; off += chunk) {
        yield [itemFor(e, off, Math.min(chunk, e.size - off), off === 0, off + chunk >= e.size)];
      }
      continue;
    }
    const size = e.kind === 'file' ? e.size : 0;
    if (batch.length && (batch.length >= taskItems || batchBytes + size > taskBytes)) {
      yield batch; batch = []; batchBytes = 0;
    }
    batch.push(itemFor(e, 0, size, true, true));
    batchBytes += size;
  }
  if (batch.length) yield batch;
}

export async function* fileEmit(plan: DumpPlan, opts: FileEmitOptions): AsyncGenerator<TapeChunk> {
  const taskBytes = opts.taskBytes ?? 1 << 20;
  const tasks = planTasks(plan.others, taskBytes, opts.taskItems ?? 128);
  const run = (items: ReadItem[]) => opts.pool.run({ vol: opts.vol, items } satisfies ReadTask, { signal: opts.signal }) as Promise<ReadResult>;
  const cost = (items: ReadItem[]) => items.reduce((s, i) => s + i.length, 0) + TP_BSIZE * items.length;
  for await (const r of orderedMap(tasks, run, { concurrency: opts.concurrency, maxBytes: Math.max(16 << 20, taskBytes * opts.concurrency), cost, signal: opts.signal })) {
    if (r.notes.length) opts.onNotes?.(r.notes);
    opts.onData?.(r.dataBytes, r.objects.length);
    yield { parts: [Buffer.from(r.buffer, 0, r.length)], headers: r.headers, objects: r.objects };
  }
}
