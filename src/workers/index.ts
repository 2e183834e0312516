/**
 * The worker pool's entry: the file phase's reader. A result that did not fit its slot is moved
 * (transferred), not copied, back to the main thread.
 */
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { readFiles } from './read-files.js';
import type { ReadTask } from './read-protocol.js';

export default function readFilesTask(task: ReadTask): unknown {
  const result = readFiles(task);
  if (!result.buffer) return result;
  return move({
    get [transferableSymbol]() { return [result.buffer]; },
    get [valueSymbol]() { return result; },
  } as never);
}
