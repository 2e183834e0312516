/**
 * The worker pool of a backup (the walk and the file phase). One place that makes it, because of
 * one Node quirk: piscina loads the worker module with require() first, and Node 20's
 * require() of an ES module, racing with a second load of the same module graph in the same
 * worker (tasks of two handlers arriving together), aborts the whole process ("IsGraphAsync must
 * be used on an instantiated module"). With require(esm) off in the workers, piscina's require
 * fails cleanly and it loads the module with import(), which has no such race.
 */
import { Piscina } from 'piscina';

export function createWorkerPool(threads: number): Piscina {
  return new Piscina({
    filename: new URL('./index.js', import.meta.url).href,
    minThreads: threads, maxThreads: threads, idleTimeout: 1000,
    execArgv: [...process.execArgv.filter((a) => a !== '--experimental-require-module'), '--no-experimental-require-module'],
  });
}
