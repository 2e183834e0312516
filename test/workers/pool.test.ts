import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createWorkerPool } from '../../src/workers/pool.js';
import type { WalkResult, WalkTask } from '../../src/workers/walk-dirs.js';
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

  it('fresh pools serve both handlers at once, many times (module loading races crashed Node here)', async () => {
    const task: WalkTask = { dirs: dir, checkAccess: false };
    for (let round = 0; round < 6; round++) {
      const pool = createWorkerPool(2);
      try {
        // The read handler's task is malformed on purpose: it must fail as a task, not bring the process down.
        const results = await Promise.allSettled([
          pool.run(task, { name: 'walkDirs' }), pool.run({}, {}), pool.run(task, { name: 'walkDirs' }), pool.run({}, {}),
        ]);
        const walks = results.filter((r, i) => i % 2 === 0) as Array<PromiseFulfilledResult<WalkResult>>;
        for (const w of walks) {
          assert.equal(w.status, 'fulfilled');
          assert.deepEqual(w.value.names.split('\0').sort(), ['f0', 'f1', 'f2', 'f3', 'f4']);
        }
      } finally {
        await pool.destroy();
      }
    }
  });
});
