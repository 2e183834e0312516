/**
 * Ordered fan-out/fan-in: runs `work` on items with up to `concurrency` in flight (and at most
 * `maxBytes` of declared cost outstanding), yielding results in input order. Results that finish
 * early wait in their slot, so memory is bounded by the window, not by the input.
 */
export interface OrderedMapOptions<T> {
  concurrency: number;
  maxBytes?: number;
  cost?: (item: T) => number;
  signal?: AbortSignal;
}

export async function* orderedMap<T, R>(
  source: Iterable<T> | AsyncIterable<T>,
  work: (item: T) => Promise<R>,
  opts: OrderedMapOptions<T>,
): AsyncGenerator<R> {
  const window: Array<{ promise: Promise<R>; cost: number }> = [];
  let outstanding = 0;
  const maxBytes = opts.maxBytes ?? Infinity;
  const costOf = opts.cost ?? (() => 0);
  try {
    for await (const item of source as AsyncIterable<T>) {
      opts.signal?.throwIfAborted();
      const cost = costOf(item);
      // Make room first: the head must be consumed before more work starts.
      while (window.length > 0 && (window.length >= opts.concurrency || outstanding + cost > maxBytes)) {
        const head = window.shift()!;
        outstanding -= head.cost;
        const result = await head.promise;
        opts.signal?.throwIfAborted();
        yield result;
      }
      // The consumer may have aborted while this item waited for room.
      opts.signal?.throwIfAborted();
      const promise = work(item);
      // A rejection is observed when its turn comes; avoid an unhandled-rejection crash before.
      promise.catch(() => undefined);
      window.push({ promise, cost });
      outstanding += cost;
    }
    while (window.length > 0) {
      const head = window.shift()!;
      outstanding -= head.cost;
      const result = await head.promise;
      opts.signal?.throwIfAborted();
      yield result;
    }
  } finally {
    // Let in-flight work settle before the caller tears down what it uses.
    await Promise.allSettled(window.map((w) => w.promise));
  }
}
