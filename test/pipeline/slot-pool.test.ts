import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SlotPool } from '../../src/pipeline/slot-pool.js';

describe('slot pool', () => {
  it('hands out every slot once, then waits for a release', async () => {
    const pool = new SlotPool(2, 16);
    const a = await pool.acquire();
    const b = await pool.acquire();
    assert.notEqual(a, b);
    let got = -1;
    const waiting = pool.acquire().then((s) => { got = s; });
    await new Promise((r) => setImmediate(r));
    assert.equal(got, -1);
    pool.release(a);
    await waiting;
    assert.equal(got, a);
  });

  it('an abort rejects a waiting acquire, and the released slot then goes to the next waiter', async () => {
    const pool = new SlotPool(1, 16);
    const only = await pool.acquire();
    const controller = new AbortController();
    const aborted = pool.acquire(controller.signal);
    const next = pool.acquire();
    controller.abort(new Error('stop'));
    await assert.rejects(aborted, /stop/);
    pool.release(only);
    assert.equal(await next, only);
    await assert.rejects(pool.acquire(controller.signal), /stop/);
  });
});
