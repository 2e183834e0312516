import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';

import { orderedMap } from '../../src/pipeline/ordered-map.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Collects unhandled rejections while `fn` runs (and a little after). */
async function noUnhandled(fn: () => Promise<void>): Promise<void> {
  const seen: unknown[] = [];
  const onUnhandled = (reason: unknown): void => { seen.push(reason); };
  process.on('unhandledRejection', onUnhandled);
  try {
    await fn();
    await sleep(30);
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  assert.deepEqual(seen, [], 'no unhandled rejections');
}

async function collect<R>(it: AsyncIterable<R>): Promise<R[]> {
  const out: R[] = [];
  for await (const r of it) out.push(r);
  return out;
}

describe('orderedMap: order', () => {
  test('results come in input order although work finishes out of order', async () => {
    const finished: number[] = [];
    const items = Array.from({ length: 30 }, (_, i) => i);
    const delays = items.map((i) => (i * 7919) % 13); // scrambled 0..12 ms
    const out = await collect(orderedMap(items, async (i) => {
      await sleep(delays[i]!);
      finished.push(i);
      return i * 10;
    }, { concurrency: 8 }));
    assert.deepEqual(out, items.map((i) => i * 10));
    assert.notDeepEqual(finished, items, 'the work really finished out of order');
  });

  test('property: random delays, concurrency and byte budget never change the output', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.record({ delay: fc.integer({ min: 0, max: 4 }), cost: fc.integer({ min: 0, max: 100 }) }), { maxLength: 25 }),
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 1, max: 300 }),
      async (items, concurrency, maxBytes) => {
        const out = await collect(orderedMap(items, async (it) => {
          await sleep(it.delay);
          return it;
        }, { concurrency, maxBytes, cost: (it) => it.cost }));
        assert.deepEqual(out, items);
      },
    ), { numRuns: 15 });
  });

  test('async iterable sources and an empty source', async () => {
    async function* gen(): AsyncGenerator<number> {
      for (let i = 0; i < 5; i++) { await sleep(1); yield i; }
    }
    assert.deepEqual(await collect(orderedMap(gen(), async (i) => `v${i}`, { concurrency: 2 })), ['v0', 'v1', 'v2', 'v3', 'v4']);
    assert.deepEqual(await collect(orderedMap([], async (i: number) => i, { concurrency: 2 })), []);
  });
});

describe('orderedMap: bounds', () => {
  test('never more than `concurrency` pieces of work in flight, and it does run that many in parallel', async () => {
    for (const concurrency of [1, 3, 7]) {
      let active = 0;
      let maxActive = 0;
      const out = await collect(orderedMap(Array.from({ length: 25 }, (_, i) => i), async (i) => {
        active++;
        maxActive = Math.max(maxActive, active);
        await sleep(2 + (i % 3));
        active--;
        return i;
      }, { concurrency }));
      assert.equal(out.length, 25);
      assert.ok(maxActive <= concurrency, `max ${maxActive} > ${concurrency}`);
      assert.equal(maxActive, concurrency);
    }
  });

  test('started-but-not-delivered work never exceeds maxBytes (an oversized item runs alone)', async () => {
    const costs = [30, 50, 20, 90, 10, 10, 10, 150, 40, 60, 5, 95, 100, 1];
    const maxBytes = 100;
    let undelivered = 0;
    let undeliveredCount = 0;
    const violations: string[] = [];
    const it = orderedMap(costs.map((c, i) => ({ c, i })), async ({ c, i }) => {
      undelivered += c;
      undeliveredCount++;
      if (undelivered > maxBytes && undeliveredCount > 1) violations.push(`item ${i}: ${undelivered} bytes outstanding`);
      await sleep((i * 5) % 7);
      return { c, i };
    }, { concurrency: 10, maxBytes, cost: ({ c }) => c });
    const order: number[] = [];
    for await (const r of it) {
      undelivered -= r.c;
      undeliveredCount--;
      order.push(r.i);
    }
    assert.deepEqual(violations, []);
    assert.deepEqual(order, costs.map((_, i) => i));
  });

  test('property: both bounds hold for random costs', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 20 }),
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 10, max: 120 }),
      async (costs, concurrency, maxBytes) => {
        let undelivered = 0;
        let count = 0;
        let running = 0;
        const it = orderedMap(costs.map((c, i) => ({ c, i })), async ({ c, i }) => {
          undelivered += c;
          count++;
          running++;
          assert.ok(running <= concurrency);
          assert.ok(count <= concurrency, 'undelivered results never exceed the window');
          assert.ok(undelivered <= maxBytes || count === 1, `${undelivered} > ${maxBytes}`);
          await sleep(i % 3);
          running--;
          return c;
        }, { concurrency, maxBytes, cost: ({ c }) => c });
        for await (const c of it) { undelivered -= c; count--; }
      },
    ), { numRuns: 20 });
  });
});

describe('orderedMap: errors', () => {
  test('a rejection surfaces in order, after the results before it, with no unhandled rejections', async () => {
    await noUnhandled(async () => {
      const got: number[] = [];
      const boom = new Error('item 5 failed');
      const it = orderedMap(Array.from({ length: 10 }, (_, i) => i), async (i) => {
        if (i === 5) throw boom; // fails at once, before 0..4 are done
        if (i === 7) { await sleep(1); throw new Error('item 7 failed too'); }
        await sleep(i < 5 ? 15 : 2);
        return i;
      }, { concurrency: 10 });
      await assert.rejects(async () => { for await (const r of it) got.push(r); }, (e) => e === boom);
      assert.deepEqual(got, [0, 1, 2, 3, 4]);
    });
  });

  test('in-flight work has settled when the error reaches the caller', async () => {
    await noUnhandled(async () => {
      const settled = new Set<number>();
      const it = orderedMap([0, 1, 2, 3], async (i) => {
        try {
          if (i === 0) throw new Error('first fails');
          await sleep(20);
          return i;
        } finally { settled.add(i); }
      }, { concurrency: 4 });
      await assert.rejects(collect(it), /first fails/);
      assert.deepEqual([...settled].sort(), [0, 1, 2, 3]);
    });
  });

  test('a failing source surfaces its error after in-flight work settles', async () => {
    await noUnhandled(async () => {
      let done = 0;
      function* src(): Generator<number> {
        yield 1;
        yield 2;
        throw new Error('source broke');
      }
      await assert.rejects(collect(orderedMap(src(), async (i) => { await sleep(10); done++; return i; }, { concurrency: 4 })), /source broke/);
      assert.equal(done, 2);
    });
  });

  test('breaking out early waits for in-flight work and leaks no rejections', async () => {
    await noUnhandled(async () => {
      const settled = new Set<number>();
      for await (const r of orderedMap([0, 1, 2, 3, 4], async (i) => {
        try {
          await sleep(5 + i);
          if (i >= 2) throw new Error(`late failure ${i}`);
          return i;
        } finally { settled.add(i); }
      }, { concurrency: 5 })) {
        assert.equal(r, 0);
        break;
      }
      assert.deepEqual([...settled].sort(), [0, 1, 2, 3, 4]);
    });
  });
});

describe('orderedMap: abort', () => {
  function* naturals(): Generator<number> {
    for (let i = 0; ; i++) yield i;
  }

  test('an abort stops an endless source with the signal\'s reason', async () => {
    await noUnhandled(async () => {
      const ac = new AbortController();
      const reason = new Error('user cancelled');
      let calls = 0;
      const got: number[] = [];
      await assert.rejects(async () => {
        for await (const r of orderedMap(naturals(), async (i) => { calls++; await sleep(1); return i; }, { concurrency: 3, signal: ac.signal })) {
          got.push(r);
          if (got.length === 3) ac.abort(reason);
        }
      }, (e) => e === reason);
      assert.deepEqual(got, [0, 1, 2]);
      assert.ok(calls <= 3 + 3 + 1, `${calls} work calls`);
    });
  });

  test('an already-aborted signal starts no work', async () => {
    let calls = 0;
    await assert.rejects(collect(orderedMap([1, 2, 3], async (i) => { calls++; return i; }, { concurrency: 2, signal: AbortSignal.abort() })),
      (e: Error) => e.name === 'AbortError');
    assert.equal(calls, 0);
  });

  test('no work starts after the abort',
    async () => {
      const ac = new AbortController();
      let callsAfterAbort = 0;
      await assert.rejects(async () => {
        let n = 0;
        for await (const _ of orderedMap(naturals(), async (i) => {
          if (ac.signal.aborted) callsAfterAbort++;
          await sleep(1);
          return i;
        }, { concurrency: 2, signal: ac.signal })) {
          if (++n === 3) ac.abort();
        }
      });
      assert.equal(callsAfterAbort, 0);
    });

  test('an abort while draining (source exhausted) stops the iteration',
    async () => {
      const ac = new AbortController();
      const got: number[] = [];
      await assert.rejects(async () => {
        for await (const r of orderedMap([0, 1, 2, 3, 4], async (i) => { await sleep(2); return i; }, { concurrency: 8, signal: ac.signal })) {
          got.push(r);
          if (r === 0) ac.abort();
        }
      }, (e: Error) => e.name === 'AbortError');
      assert.deepEqual(got, [0]);
    });
});
