/** sysx.readFileBatch (native/read-batch.c): what it reads, where it writes, what it reports. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import * as sysx from '../../src/native/sysx.js';
import { READ_RESULT_FIELDS, READ_SKIPPED, ReadField as R, StatField as F, STAT_FIELDS } from '../../src/native/sysx.js';
import { RecordType, TP_BSIZE } from '../../src/format/constants.js';
import { HeaderTemplate } from '../../src/format/header-template.js';
import type { VolumeInfo } from '../../src/format/volume.js';
import { COLS, Col, exactTimesOfRow } from '../../src/workers/read-protocol.js';
import { removeTree, tempDir } from '../helpers/tree.js';

const dir = tempDir('read-batch-native');
after(() => removeTree(dir));

const vol: VolumeInfo = { date: 1_780_000_000, ddate: 1_770_000_000, volume: 1, level: 1, label: 'lbl', filesys: '/fs', dev: '/dev/d', host: 'h', ntrec: 10, maxino: 99 };
const tpl = new HeaderTemplate(vol);
const fileTpl = tpl.withType(RecordType.INODE);

function paths(...names: string[]): Buffer {
  return Buffer.from(names.map((n) => `${path.join(dir, n)}\0`).join(''));
}

function result(results: Float64Array, i: number): Float64Array {
  return results.subarray(i * READ_RESULT_FIELDS, (i + 1) * READ_RESULT_FIELDS);
}

/** Rows for `count` items, each with the fields a header takes from `fields` (by column). */
function rowsOf(count: number, fields: Partial<Record<Col, number>> = {}): Float64Array {
  const rows = new Float64Array(count * COLS);
  for (let i = 0; i < count; i++) {
    rows[i * COLS + Col.birthNsec] = -1;
    for (const [c, v] of Object.entries(fields)) rows[i * COLS + Number(c)] = v;
  }
  return rows;
}

/** The header HeaderTemplate.write makes for the file of row 0 with these flags and blocks. */
function jsHeader(rows: Float64Array, flags: number, nblocks: number): Buffer {
  const h = Buffer.alloc(TP_BSIZE);
  const g = (c: Col) => rows[c]!;
  tpl.write(h, 0, RecordType.INODE, g(Col.ino), {
    mode: g(Col.mode), nlink: g(Col.nlink), uid: g(Col.uid), gid: g(Col.gid), size: g(Col.size), blocks: g(Col.blocks),
    rdev: g(Col.rdev), flags, atime: g(Col.atime), atimeUsec: g(Col.atimeUsec), mtime: g(Col.mtime), mtimeUsec: g(Col.mtimeUsec),
    ctime: g(Col.ctime), ctimeUsec: g(Col.ctimeUsec), exact: exactTimesOfRow(rows, 0),
  }, nblocks, null, 0);
  return h;
}

describe('sysx.readFileBatch', () => {
  const data = Buffer.from(Array.from({ length: 3000 }, (_v, i) => (i * 13) & 0xff));
  fs.writeFileSync(path.join(dir, 'data'), data);
  fs.writeFileSync(path.join(dir, 'empty'), '');
  fs.writeFileSync(path.join(dir, 'ea'), 'x');
  execFileSync('setfattr', ['-n', 'user.k', '-v', 'value', path.join(dir, 'ea')]);
  fs.symlinkSync('data', path.join(dir, 'link'));

  it('writes each asked file\'s header and data to its place, zeroes the rest of its last block, and touches nothing else', () => {
    const buf = Buffer.alloc(16 * 1024, 0xee);
    // data whole at 1024; data's first 1500 bytes at 5120; empty at 8192; a skipped item.
    const plan = Float64Array.of(1024, 3000, 5120, 1500, 8192, 0, 0, -1);
    const results = new Float64Array(4 * READ_RESULT_FIELDS);
    const rows = rowsOf(4, { [Col.ino]: 12, [Col.mode]: 0o100644, [Col.size]: 3000 });
    sysx.readFileBatch(paths('data', 'data', 'empty', 'data'), plan, buf, results, fileTpl, rows);
    assert.deepEqual(buf.subarray(0, 1024), Buffer.alloc(1024, 0xee));
    const flags = result(results, 0)[R.flags]!;
    assert.deepEqual(buf.subarray(1024, 2048), jsHeader(rows, flags, 3));
    assert.deepEqual(buf.subarray(2048, 5048), data);
    assert.deepEqual(buf.subarray(5048, 5120), Buffer.alloc(72));
    assert.deepEqual(buf.subarray(5120, 6144), jsHeader(rows, flags, 2));
    assert.deepEqual(buf.subarray(6144, 7644), data.subarray(0, 1500));
    assert.deepEqual(buf.subarray(7644, 8192), Buffer.alloc(548));
    assert.deepEqual(buf.subarray(8192, 9216), jsHeader(rows, result(results, 2)[R.flags]!, 0));
    assert.deepEqual(buf.subarray(9216), Buffer.alloc(buf.length - 9216, 0xee));

    const st = new Float64Array(STAT_FIELDS);
    const fd = fs.openSync(path.join(dir, 'data'), 'r');
    const realFlags = sysx.getFlags(fd);
    sysx.fstatInto(fd, st);
    fs.closeSync(fd);
    assert.deepEqual(Array.from(result(results, 0)), [0, realFlags, 0, 3000, 3000, st[F.mtimeSec], st[F.mtimeNsec], st[F.ctimeSec], st[F.ctimeNsec]]);
    assert.equal(result(results, 1)[R.bytes], 1500);
    assert.equal(result(results, 1)[R.size], 3000);
    assert.equal(result(results, 2)[R.status], 0);
    assert.equal(result(results, 2)[R.bytes], 0);
    assert.equal(result(results, 3)[R.status], READ_SKIPPED);
  });

  it('encodes every header field as HeaderTemplate.write does, odd values included', () => {
    const buf = Buffer.alloc(2 * TP_BSIZE);
    const results = new Float64Array(READ_RESULT_FIELDS);
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    const secs = fc.oneof(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.constantFrom(0, -1, 2 ** 32, 2 ** 32 - 1, -(2 ** 32), NaN, Infinity, -Infinity));
    const nsecs = fc.oneof(fc.integer({ min: 0, max: 999_999_999 }), fc.constantFrom(-5, 1e9, 2e9, NaN, 12.7));
    fc.assert(fc.property(
      fc.record({ ino: u32, mode: u32, nlink: u32, uid: u32, gid: u32, size: fc.integer({ min: 0, max: 2 ** 45 }), blocks: u32, rdev: u32,
        atime: secs, atimeUsec: u32, mtime: secs, mtimeUsec: u32, ctime: secs, ctimeUsec: u32 }),
      fc.tuple(secs, nsecs, secs, nsecs, secs, nsecs, fc.option(fc.tuple(secs, nsecs))),
      (f, [as, an, ms, mn, cs, cn, birth]) => {
        const rows = rowsOf(1, {
          [Col.ino]: f.ino, [Col.mode]: f.mode, [Col.nlink]: f.nlink, [Col.uid]: f.uid, [Col.gid]: f.gid, [Col.size]: f.size,
          [Col.blocks]: f.blocks, [Col.rdev]: f.rdev, [Col.atime]: f.atime, [Col.atimeUsec]: f.atimeUsec, [Col.mtime]: f.mtime,
          [Col.mtimeUsec]: f.mtimeUsec, [Col.ctime]: f.ctime, [Col.ctimeUsec]: f.ctimeUsec,
          [Col.atimeSec]: as, [Col.atimeNsec]: an, [Col.mtimeSec]: ms, [Col.mtimeNsec]: mn, [Col.ctimeSec]: cs, [Col.ctimeNsec]: cn,
          [Col.birthSec]: birth ? birth[0] : 0, [Col.birthNsec]: birth ? birth[1] : -1,
        });
        sysx.readFileBatch(paths('empty'), Float64Array.of(0, 0), buf, results, fileTpl, rows);
        assert.equal(results[R.status], 0);
        assert.deepEqual(buf.subarray(0, TP_BSIZE), jsHeader(rows, results[R.flags]!, 0));
      }), { numRuns: 300 });
  });

  it('reports the size of the xattr name list, and the errno of a file it cannot open (never following a link)', () => {
    const buf = Buffer.alloc(8 * 1024, 0xee);
    const plan = Float64Array.of(0, 1, 2048, 10, 4096, 10);
    const results = new Float64Array(3 * READ_RESULT_FIELDS);
    sysx.readFileBatch(paths('ea', 'missing', 'link'), plan, buf, results, fileTpl, rowsOf(3));
    assert.equal(result(results, 0)[R.status], 0);
    assert.equal(result(results, 0)[R.xattrBytes], 'user.k\0'.length);
    assert.equal(result(results, 1)[R.status], os.constants.errno.ENOENT);
    assert.equal(result(results, 2)[R.status], os.constants.errno.ELOOP);
    assert.deepEqual(buf.subarray(2048), Buffer.alloc(buf.length - 2048, 0xee), 'nothing written for files it could not open');
  });

  it('refuses plans that would write outside the buffer, items over 512 KiB, short rows and missing paths', () => {
    const buf = Buffer.alloc(5120);
    const results = new Float64Array(READ_RESULT_FIELDS);
    const call = (plan: Float64Array, p = paths('data'), b: Buffer = buf, rows = rowsOf(1), t = fileTpl, res = results) => sysx.readFileBatch(p, plan, b, res, t, rows);
    // A header and 3000 bytes rounded up to 3072: from 1024 they end at 5120, from 1025 beyond.
    assert.doesNotThrow(() => call(Float64Array.of(1024, 3000)));
    assert.throws(() => call(Float64Array.of(1025, 3000)), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => call(Float64Array.of(4096, 1)), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => call(Float64Array.of(0, NaN)), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => call(Float64Array.of(0.5, 1)), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => call(Float64Array.of(0, 512 * 1024 + 1), paths('data'), Buffer.alloc(600 * 1024)), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => call(Float64Array.of(0, 1), Buffer.from('no-nul')), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => call(Float64Array.of(0, 1, 0)), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => call(Float64Array.of(0, 1), paths('data'), buf, new Float64Array(COLS - 1)), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => call(Float64Array.of(0, 1), paths('data'), buf, rowsOf(1), Buffer.alloc(512)), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => call(Float64Array.of(0, 1), paths('data'), buf, rowsOf(1), fileTpl, new Float64Array(1)), { code: 'ERR_OUT_OF_RANGE' });
  });

  it('writes into a shared buffer (the file phase\'s slots)', () => {
    const slot = new SharedArrayBuffer(5120);
    const results = new Float64Array(READ_RESULT_FIELDS);
    sysx.readFileBatch(paths('data'), Float64Array.of(0, 3000), Buffer.from(slot), results, fileTpl, rowsOf(1));
    assert.deepEqual(Buffer.from(slot, TP_BSIZE, 3000), data);
  });
});
