/**
 * The file phase's read tasks of a real tree (walked by traverse, cut by planTasks), and the
 * comparison of the main thread's batched reader with readFiles on them: the batched reader must
 * give the same bytes, headers, objects, byte count and notes.
 */
import * as assert from 'node:assert/strict';
import { traverse } from '../../src/stages/traverse.js';
import { planTasks, slotSizeFor, toTask } from '../../src/stages/file-emit.js';
import type { VolumeInfo } from '../../src/format/volume.js';
import type { ReadResult, ReadTask } from '../../src/workers/read-protocol.js';
import { readFiles } from '../../src/workers/read-files.js';
import { readFilesBatched } from '../../src/workers/read-files-batch.js';

const vol: VolumeInfo = {
  date: 1_780_000_000, ddate: 0, volume: 1, level: 0, label: 'readtest', filesys: '/src', dev: '/dev/x', host: 'h', ntrec: 10, maxino: 0,
};

export interface PlannedTasks {
  tasks: ReadTask[];
  taskBytes: number;
  taskItems: number;
}

/** The read tasks of every non-directory of `root`, as the main-thread reader gets them. */
export async function readTasksOf(root: string, taskBytes = 256 << 10, taskItems = 64): Promise<PlannedTasks> {
  const plan = await traverse({ source: root, concurrency: 2 });
  const v = { ...vol, maxino: plan.maxino };
  const slot = new SharedArrayBuffer(0);
  const tasks = [...planTasks(plan.table, plan.others, taskBytes, taskItems)].map((items) => toTask(v, plan.table, items, slot));
  return { tasks, taskBytes, taskItems };
}

function bytesOf(r: ReadResult, slot: SharedArrayBuffer): Buffer {
  return r.buffer ? Buffer.from(r.buffer, 0, r.length) : Buffer.from(slot, 0, r.length);
}

export interface Compared {
  /** Whether both readers failed (with the same error code). */
  failed: boolean;
  notes: ReadResult['notes'];
  length: number;
}

/**
 * Reads `task` with readFiles, then with readFilesBatched (each in a fresh slot filled with
 * garbage, so a byte either one leaves unwritten shows), and asserts the same results.
 */
export function compareReaders(p: PlannedTasks, task: ReadTask): Compared {
  const slotA = new SharedArrayBuffer(slotSizeFor(p.taskBytes, p.taskItems));
  const slotB = new SharedArrayBuffer(slotSizeFor(p.taskBytes, p.taskItems));
  new Uint8Array(slotA).fill(0xa5);
  new Uint8Array(slotB).fill(0x5a);
  let a: ReadResult | undefined, b: ReadResult | undefined, errA: unknown, errB: unknown;
  try { a = readFiles({ ...task, slot: slotA }); } catch (e) { errA = e; }
  try { b = readFilesBatched({ ...task, slot: slotB }); } catch (e) { errB = e; }
  if (errA || errB) {
    assert.ok(errA && errB, `one reader failed, the other not: ${String(errA ?? errB)}`);
    assert.equal((errB as NodeJS.ErrnoException).code, (errA as NodeJS.ErrnoException).code);
    assert.equal((errB as Error).message, (errA as Error).message);
    return { failed: true, notes: [], length: 0 };
  }
  assert.ok(a && b);
  assert.equal(b.length, a.length);
  assert.equal(b.buffer === null, a.buffer === null, 'a result of its own exactly when readFiles has one');
  assert.ok(bytesOf(b, slotB).equals(bytesOf(a, slotA)), 'the same bytes');
  assert.deepEqual(b.headers, a.headers);
  assert.deepEqual(b.objects, a.objects);
  assert.equal(b.dataBytes, a.dataBytes);
  assert.deepEqual(b.notes, a.notes);
  return { failed: false, notes: a.notes, length: a.length };
}
