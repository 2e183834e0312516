/**
 * Who runs the file phase's read tasks: the worker pool (the cores read in parallel), or the
 * main thread, for a backup that reads so little that starting worker threads (about 0.1 s of
 * CPU each) would cost more than the reads. Each is loaded only when chosen.
 */
import type { ReadResult, ReadTask } from './read-protocol.js';

export interface ReadRunner {
  run(task: ReadTask, options: { signal?: AbortSignal }): Promise<ReadResult>;
  /**
   * How the file phase should cut its work for this runner: tasks in flight, file bytes and
   * objects per task. The main thread reads one task at a time, so small tasks let the same few
   * buffers be reused (fresh memory costs page faults) without losing any parallelism.
   */
  readonly tasks: { concurrency: number; taskBytes: number; taskItems: number };
  destroy(): Promise<void>;
}

/** Up to this much file data (and this many objects) a backup reads on its main thread. */
export const MAIN_THREAD_MAX_BYTES = 32 << 20;
export const MAIN_THREAD_MAX_OBJECTS = 4096;

/** Whether a file phase of `bytes` in `objects` objects is read on the main thread. */
export function readsOnMainThread(bytes: number, objects: number): boolean {
  return bytes <= MAIN_THREAD_MAX_BYTES && objects <= MAIN_THREAD_MAX_OBJECTS;
}

export async function poolReader(threads: number): Promise<ReadRunner> {
  const { createWorkerPool } = await import('./pool.js');
  const pool = createWorkerPool(threads);
  return {
    tasks: { concurrency: threads * 3, taskBytes: 2 << 20, taskItems: 512 },
    run: (task, options) => pool.run(task, options) as Promise<ReadResult>,
    destroy: () => pool.destroy(),
  };
}

export async function mainThreadReader(): Promise<ReadRunner> {
  const { readFilesBatched } = await import('./read-files-batch.js');
  return {
    tasks: { concurrency: 1, taskBytes: 256 << 10, taskItems: 64 },
    run: async (task, options) => {
      options.signal?.throwIfAborted();
      return readFilesBatched(task);
    },
    destroy: async () => undefined,
  };
}
