/** sysx.readFilesAsync (native/read-batch.c): what it reads, where it writes, what it reports. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as sysx from '../../src/native/sysx.js';
import { READ_PLAN_FIELDS, READ_RESULT_FIELDS, READ_SKIPPED, ReadField as R, StatField as F, STAT_FIELDS } from '../../src/native/sysx.js';
import { removeTree, tempDir } from '../helpers/tree.js';

const dir = tempDir('read-batch-native');
after(() => removeTree(dir));

function paths(...names: string[]): Buffer {
  return Buffer.from(names.map((n) => `${path.join(dir, n)}\0`).join(''));
}

function result(results: Float64Array, i: number): Float64Array {
  return results.subarray(i * READ_RESULT_FIELDS, (i + 1) * READ_RESULT_FIELDS);
}

describe('sysx.readFilesAsync', () => {
  const data = Buffer.from(Array.from({ length: 3000 }, (_v, i) => (i * 13) & 0xff));
  fs.writeFileSync(path.join(dir, 'data'), data);
  fs.writeFileSync(path.join(dir, 'empty'), '');
  fs.writeFileSync(path.join(dir, 'ea'), 'x');
  execFileSync('setfattr', ['-n', 'user.k', '-v', 'value', path.join(dir, 'ea')]);
  fs.symlinkSync('data', path.join(dir, 'link'));

  it('reads each asked file to its place, zeroes the rest of its last block, and touches nothing else', async () => {
    const buf = Buffer.alloc(16 * 1024, 0xee);
    // data whole at 1024; data's first 1500 bytes at 5120; empty at 8192; a skipped item.
    const plan = Float64Array.of(1024, 3000, 5120, 1500, 8192, 0, 0, -1);
    const results = new Float64Array(4 * READ_RESULT_FIELDS);
    await sysx.readFilesAsync(paths('data', 'data', 'empty', 'data'), plan, buf, results);
    assert.deepEqual(buf.subarray(0, 1024), Buffer.alloc(1024, 0xee));
    assert.deepEqual(buf.subarray(1024, 4024), data);
    assert.deepEqual(buf.subarray(4024, 4096), Buffer.alloc(72));
    assert.deepEqual(buf.subarray(4096, 5120), Buffer.alloc(1024, 0xee));
    assert.deepEqual(buf.subarray(5120, 6620), data.subarray(0, 1500));
    assert.deepEqual(buf.subarray(6620, 7168), Buffer.alloc(548));
    assert.deepEqual(buf.subarray(7168), Buffer.alloc(buf.length - 7168, 0xee));

    const st = new Float64Array(STAT_FIELDS);
    const fd = fs.openSync(path.join(dir, 'data'), 'r');
    const flags = sysx.getFlags(fd);
    sysx.fstatInto(fd, st);
    fs.closeSync(fd);
    const r0 = result(results, 0);
    assert.deepEqual(Array.from(r0), [0, flags, 0, 3000, 3000, st[F.mtimeSec], st[F.mtimeNsec], st[F.ctimeSec], st[F.ctimeNsec]]);
    assert.equal(result(results, 1)[R.bytes], 1500);
    assert.equal(result(results, 1)[R.size], 3000);
    assert.equal(result(results, 2)[R.status], 0);
    assert.equal(result(results, 2)[R.bytes], 0);
    assert.equal(result(results, 3)[R.status], READ_SKIPPED);
  });

  it('reports the size of the xattr name list, and the errno of a file it cannot open (never following a link)', async () => {
    const buf = Buffer.alloc(8 * 1024);
    const plan = Float64Array.of(1024, 1, 3072, 10, 5120, 10);
    const results = new Float64Array(3 * READ_RESULT_FIELDS);
    await sysx.readFilesAsync(paths('ea', 'missing', 'link'), plan, buf, results);
    assert.equal(result(results, 0)[R.status], 0);
    assert.equal(result(results, 0)[R.xattrBytes], 'user.k\0'.length);
    assert.equal(result(results, 1)[R.status], os.constants.errno.ENOENT);
    assert.equal(result(results, 2)[R.status], os.constants.errno.ELOOP);
  });

  it('refuses plans that would write outside the buffer, items over 512 KiB, and missing paths', async () => {
    const buf = Buffer.alloc(4096);
    const results = new Float64Array(READ_RESULT_FIELDS);
    const call = (plan: Float64Array, p = paths('data')) => sysx.readFilesAsync(p, plan, buf, results);
    // 3000 bytes round up to 3072: 1024 + 3072 fits 4096, 1025 + 3072 does not.
    await assert.rejects(() => call(Float64Array.of(1025, 3000)), { code: 'ERR_OUT_OF_RANGE' });
    await assert.rejects(() => call(Float64Array.of(4096, 1)), { code: 'ERR_OUT_OF_RANGE' });
    await assert.rejects(() => call(Float64Array.of(0, NaN)), { code: 'ERR_OUT_OF_RANGE' });
    await assert.rejects(() => call(Float64Array.of(0.5, 1)), { code: 'ERR_OUT_OF_RANGE' });
    await assert.rejects(() => sysx.readFilesAsync(paths('data'), Float64Array.of(0, 512 * 1024 + 1), Buffer.alloc(600 * 1024), results), { code: 'ERR_OUT_OF_RANGE' });
    await assert.rejects(() => call(Float64Array.of(0, 1), Buffer.from('no-nul')), { code: 'ERR_OUT_OF_RANGE' });
    await assert.rejects(() => call(Float64Array.of(0, 1, 0)), { code: 'ERR_OUT_OF_RANGE' });
    await assert.rejects(() => sysx.readFilesAsync(paths('data'), Float64Array.of(0, 1), buf, new Float64Array(1)), { code: 'ERR_OUT_OF_RANGE' });
    assert.equal(READ_PLAN_FIELDS, 2);
  });

  it('writes into a shared buffer (the file phase\'s slots)', async () => {
    const slot = new SharedArrayBuffer(4096);
    const results = new Float64Array(READ_RESULT_FIELDS);
    await sysx.readFilesAsync(paths('data'), Float64Array.of(0, 3000), Buffer.from(slot), results);
    assert.deepEqual(Buffer.from(slot, 0, 3000), data);
  });
});
