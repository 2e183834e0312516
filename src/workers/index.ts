/**
 * The worker pool's entry: the file phase's reader. A result that did not fit its slot is moved
 * (transferred), not copied, back to the main thread. Small whole files go through the native
 * batch (read-files-batch.ts), as on the main thread: a level 0 of 100,000 small files spent
 * most of its user time in the per-file JavaScript of readFiles.
 */
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { readFilesBatched } from './read-files-batch.js';
import type { ReadTask } from './read-protocol.js';

export default function readFilesTask(task: ReadTask): unknown {
  const result = readFilesBatched(task);
  if (!result.buffer) return result;
  return move({
    get [transferableSymbol]() { return [result.buffer]; },
    get [valueSymbol]() { return result; },
  } as never);
}
