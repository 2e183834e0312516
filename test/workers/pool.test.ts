import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createWorkerPool } from '../../src/workers/pool.js';
import { removeTree, tempDir } from '../helpers/tree.js';

describe('worker pool', () => {
  let dir: string;
  before(() => {
    dir = tempDir('pool');
    for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(dir, `f${i}`), 'x');
  });
  after(() => removeTree(dir));

  it('loads the worker module without require(esm) in the workers', async () => {
    const pool = createWorkerPool(1);
    try {
      assert.ok(pool.options.execArgv?.includes('--no-experimental-require-module'));
    } finally {
      await pool.destroy();
    }
  });

  it('fresh pools serve tasks arriving at once, many times (module loading races crashed Node here)', async () => {
    for (let round = 0; round < 6; round++) {
      const pool = createWorkerPool(2);
      try {
        // Malformed tasks on purpose: each must fail as a task, not bring the process down.
        const results = await Promise.allSettled([pool.run({}, {}), pool.run({}, {}), pool.run({}, {}), pool.run({}, {})]);
        for (const r of results) assert.equal(r.status, 'rejected');
      } finally {
        await pool.destroy();
      }
    }
  });
});
