import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { haveProgram, run } from '../helpers/tree.js';

import { SnapdumpError } from '../../src/errors.js';
import { openSink, TapeDeviceSink } from '../../src/tape/sink.js';
import { patternBytes } from '../helpers/format-fixtures.js';

let dir = '';
before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapdump-sink-')); });
after(() => { fs.rmSync(dir, { recursive: true, force: true }); });

const RECORD = 10 * 1024;

function isOutputError(e: unknown): boolean {
  return e instanceof SnapdumpError && e.code === 'ERR_OUTPUT';
}

function partials(d: string): string[] {
  return fs.readdirSync(d).filter((n) => n.includes('.partial'));
}

describe('openSink on a file', () => {
  test('writes under a temporary name and renames only on commit', async () => {
    const out = path.join(dir, 'image.dump');
    const sink = openSink(out, RECORD);
    assert.equal(sink.name, out);
    assert.equal(fs.existsSync(out), false, 'no final file before commit');
    const tmp = partials(dir);
    assert.equal(tmp.length, 1);
    assert.ok(tmp[0]!.startsWith('.image.dump.partial'), tmp[0]);
    const a = patternBytes(4096, 1);
    const b = patternBytes(1024, 2);
    await sink.write([a, b]);
    await sink.write([patternBytes(5120, 3)]);
    assert.equal(fs.existsSync(out), false, 'still not there after writes');
    assert.deepEqual(fs.readFileSync(path.join(dir, tmp[0]!)), Buffer.concat([a, b, patternBytes(5120, 3)]));
    const tmpIno = fs.statSync(path.join(dir, tmp[0]!)).ino;
    assert.equal(sink.identity?.ino, tmpIno, 'identity names the file being written');
    await sink.commit();
    assert.deepEqual(fs.readFileSync(out), Buffer.concat([a, b, patternBytes(5120, 3)]));
    assert.deepEqual(partials(dir), []);
    const st = fs.statSync(out);
    assert.equal(st.ino, tmpIno, 'the same file was renamed into place');
    assert.equal(sink.identity?.dev, st.dev);
    await sink.abort(); // after commit: harmless
    assert.ok(fs.existsSync(out));
    fs.unlinkSync(out);
  });

  test('abort leaves no file behind (and can be repeated)', async () => {
    const out = path.join(dir, 'aborted.dump');
    const sink = openSink(out, RECORD);
    await sink.write([Buffer.alloc(2048, 1)]);
    await sink.abort();
    await sink.abort();
    assert.equal(fs.existsSync(out), false);
    assert.deepEqual(partials(dir), []);
  });

  test('an existing output is replaced only on commit, kept on abort', async () => {
    const out = path.join(dir, 'existing.dump');
    fs.writeFileSync(out, 'previous image');
    const s1 = openSink(out, RECORD);
    await s1.write([Buffer.alloc(1024, 7)]);
    assert.equal(fs.readFileSync(out, 'utf8'), 'previous image');
    await s1.abort();
    assert.equal(fs.readFileSync(out, 'utf8'), 'previous image');
    const s2 = openSink(out, RECORD);
    await s2.write([Buffer.alloc(1024, 7)]);
    await s2.commit();
    assert.deepEqual(fs.readFileSync(out), Buffer.alloc(1024, 7));
    assert.deepEqual(partials(dir), []);
    fs.unlinkSync(out);
  });

  test('thousands of parts (more than IOV_MAX) are all written in order', async () => {
    const out = path.join(dir, 'many.dump');
    const sink = openSink(out, RECORD);
    const parts = Array.from({ length: 3000 }, (_, i) => Buffer.alloc(16 + (i % 5), i & 0xff));
    await sink.write(parts);
    await sink.commit();
    assert.deepEqual(fs.readFileSync(out), Buffer.concat(parts));
    fs.unlinkSync(out);
  });

  test('an empty write changes nothing', async () => {
    const out = path.join(dir, 'empty.dump');
    const sink = openSink(out, RECORD);
    await sink.write([]);
    await sink.commit();
    assert.equal(fs.statSync(out).size, 0);
    fs.unlinkSync(out);
  });
});

describe('openSink refuses outputs it cannot write', () => {
  test('a directory gives ERR_OUTPUT and creates nothing', () => {
    const d = path.join(dir, 'adir');
    fs.mkdirSync(d);
    assert.throws(() => openSink(d, RECORD), isOutputError);
    assert.deepEqual(fs.readdirSync(d), []);
    assert.deepEqual(partials(dir), []);
  });

  test('a missing parent directory gives ERR_OUTPUT', () => {
    assert.throws(() => openSink(path.join(dir, 'no', 'such', 'dir', 'x.dump'), RECORD), isOutputError);
  });

  test('a path below a regular file gives ERR_OUTPUT', () => {
    const f = path.join(dir, 'plain-file');
    fs.writeFileSync(f, 'x');
    assert.throws(() => openSink(path.join(f, 'x.dump'), RECORD), (e) => isOutputError(e) && (e as SnapdumpError).details['path'] === path.join(f, 'x.dump'));
  });

  test('a read-only directory gives ERR_OUTPUT', (t) => {
    if (process.getuid?.() === 0) { t.skip('root ignores directory permissions'); return; }
    const ro = path.join(dir, 'readonly');
    fs.mkdirSync(ro, 0o555);
    try {
      assert.throws(() => openSink(path.join(ro, 'x.dump'), RECORD), isOutputError);
    } finally {
      fs.chmodSync(ro, 0o755);
    }
  });

  test('a read-only file system location gives ERR_OUTPUT', (t) => {
    if (!fs.existsSync('/proc/self')) { t.skip('no /proc'); return; }
    assert.throws(() => openSink('/proc/self/snapdump-test.dump', RECORD), isOutputError);
  });
});

describe('other outputs', () => {
  test('"-" is standard output: no identity, nothing to rename', () => {
    const s = openSink('-', RECORD);
    assert.equal(s.name, '-');
    assert.equal(s.identity, null);
  });

  test('a FIFO gets the bytes as written, no temporary file', async (t) => {
    const fifo = path.join(dir, 'pipe');
    if (spawnSync('mkfifo', [fifo]).status !== 0) { t.skip('mkfifo not available'); return; }
    const outFile = path.join(dir, 'from-pipe');
    const fd = fs.openSync(outFile, 'w');
    const reader = spawn('cat', [fifo], { stdio: ['ignore', fd, 'ignore'] });
    try {
      const sink = openSink(fifo, RECORD);
      assert.equal(sink.identity, null);
      const data = patternBytes(3 * RECORD, 9);
      await sink.write([data.subarray(0, 5000), data.subarray(5000)]);
      await sink.commit();
      await once(reader, 'exit');
      assert.deepEqual(fs.readFileSync(outFile), data);
      assert.deepEqual(partials(dir), []);
    } finally {
      fs.closeSync(fd);
      if (reader.exitCode === null) reader.kill();
    }
  });

  test('a character device is written record by record; a partial record at commit is an internal error', async () => {
    const s = openSink('/dev/null', RECORD);
    assert.equal(s.identity, null);
    await s.write([Buffer.alloc(RECORD), Buffer.alloc(RECORD / 2)]);
    await s.write([Buffer.alloc(RECORD / 2)]);
    await s.commit();
    const t2 = openSink('/dev/null', RECORD);
    await t2.write([Buffer.alloc(RECORD + 1024)]);
    await assert.rejects(t2.commit(), (e) => e instanceof SnapdumpError && e.code === 'ERR_INTERNAL');
    await t2.abort();
  });
});

describe('TapeDeviceSink', () => {
  function recorder(result?: (i: number, rec: Buffer) => number | Error) {
    const records: Buffer[] = [];
    const closed: number[] = [];
    const write = async (fd: number, rec: Buffer): Promise<number> => {
      assert.equal(fd, 42);
      const r = result?.(records.length, rec);
      records.push(Buffer.from(rec));
      if (r instanceof Error) throw r;
      return r ?? rec.length;
    };
    return { records, closed, write, close: (fd: number) => { closed.push(fd); } };
  }

  test('exactly one write of recordSize bytes per record, across part boundaries', async () => {
    const r = recorder();
    const sink = new TapeDeviceSink('/dev/nst0', 42, 4096, r.write, r.close);
    const data = patternBytes(5 * 4096, 11);
    await sink.write([data.subarray(0, 1000), data.subarray(1000, 1024)]);
    assert.equal(r.records.length, 0, 'less than a record: nothing written yet');
    await sink.write([data.subarray(1024, 9000), data.subarray(9000, 9001)]);
    assert.equal(r.records.length, 2);
    await sink.write([data.subarray(9001)]);
    assert.equal(r.records.length, 5);
    assert.ok(r.records.every((x) => x.length === 4096));
    assert.deepEqual(Buffer.concat(r.records), data);
    await sink.commit();
    assert.deepEqual(r.closed, [42]);
  });

  test('a short write (end of medium) is ERR_OUTPUT', async () => {
    const r = recorder((i) => (i === 1 ? 1000 : 4096));
    const sink = new TapeDeviceSink('/dev/nst0', 42, 4096, r.write, r.close);
    await assert.rejects(sink.write([Buffer.alloc(3 * 4096)]), isOutputError);
    await sink.abort();
    assert.deepEqual(r.closed, [42]);
  });

  test('a failing write(2) is ERR_OUTPUT with the cause', async () => {
    const cause = Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
    const r = recorder(() => cause);
    const sink = new TapeDeviceSink('/dev/nst0', 42, 4096, r.write, r.close);
    await assert.rejects(sink.write([Buffer.alloc(4096)]), (e) => isOutputError(e) && (e as Error).cause === cause);
  });

  test('commit with a partial record pending is an internal error and does not close', async () => {
    const r = recorder();
    const sink = new TapeDeviceSink('/dev/nst0', 42, 4096, r.write, r.close);
    await sink.write([Buffer.alloc(4096 + 512)]);
    await assert.rejects(sink.commit(), (e) => e instanceof SnapdumpError && e.code === 'ERR_INTERNAL');
    assert.deepEqual(r.closed, []);
    await sink.abort();
    assert.deepEqual(r.closed, [42]);
  });
});

describe('a file sink on a full disk', () => {
  const isRoot = process.getuid?.() === 0;
  test('durableBytes never passes the start of a failed write, whatever lands after it', { skip: !isRoot || !haveProgram('mount') }, async () => {
    const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'snapdump-sink-full-'));
    assert.equal(run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]).status, 0);
    let sink: ReturnType<typeof openSink> | null = null;
    try {
      sink = openSink(path.join(mnt, 'image.dump'), RECORD);
      await sink.write([patternBytes(16 << 10, 1)]);
      assert.equal(sink.durableBytes!(), 16 << 10);
      // Two writes in flight: the first does not fit, the second (small) may land after it.
      const big = sink.write([patternBytes(128 << 10, 2)]);
      const small = sink.write([patternBytes(1 << 10, 3)]);
      small.catch(() => undefined);
      await assert.rejects(big, isOutputError);
      await small.catch(() => undefined);
      assert.equal(sink.durableBytes!(), 16 << 10, 'a checkpoint may name nothing past the failed write');
    } finally {
      await sink?.abort(); // closes the file, or the unmount is refused
      run('umount', [mnt]);
      fs.rmSync(mnt, { recursive: true, force: true });
    }
  });
});
