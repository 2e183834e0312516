/**
 * The batched writer of small files: the record layout as native/write-files.c reads it (data,
 * holes, trailing holes, mode, times to the nanosecond), what a record may never do (leave
 * its directory, follow or replace an existing entry), a failing file in the middle of a
 * batch, a full file system (the failing file removed, the rest not attempted), and the
 * FileBatcher around it: take-back of the staged file, EEXIST redone the ordinary way,
 * StopRestore from settle(), directory descriptors evicted and closed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as sysx from '../../src/native/sysx.js';
import {
  FileBatcher, NOT_DONE, RESULT_FIELDS, RecordWriter, recordBound, recordPieces, type BatchSink, type BatchedFile, type RecordSpec,
} from '../../src/restore/file-batch.js';
import { StopRestore, type ExtractContext } from '../../src/restore/extract.js';
import type { DumpInode } from '../../src/format/header.js';
import type { DirTarget, LeafTarget } from '../../src/restore/selection.js';
import type { DataPiece } from '../../src/read/image-reader.js';
import { isRoot, run, tempDir } from '../helpers/tree.js';

const { O_RDONLY, O_DIRECTORY } = fs.constants;
const EEXIST = 17;
const ENOSPC = 28;
const EBADF = 9;
const EINVAL = 22;

interface Spec { name: string; pieces?: DataPiece[]; size?: number; perm?: number; dirfd: number; mtime?: [number, number] }

function batchOf(specs: Spec[]): { buf: Buffer; used: number; results: Int32Array } {
  let total = 0;
  for (const s of specs) total += recordBound(Buffer.byteLength(s.name), s.size ?? 0);
  const buf = Buffer.alloc(total);
  const w = new RecordWriter(buf);
  let used = 0;
  for (const s of specs) {
    const [mSec, mNsec] = s.mtime ?? [1600000000, 123456789];
    const spec: RecordSpec = {
      dirfd: s.dirfd, name: Buffer.from(s.name), perm: s.perm ?? 0o640, chown: false, chmod: true, uid: 0, gid: 0,
      atimeSec: 1500000000, atimeNsec: 5, mtimeSec: mSec, mtimeNsec: mNsec, size: s.size ?? 0,
    };
    w.begin(used, spec);
    for (const p of s.pieces ?? []) if (p.data) w.add(p.offset, p.data);
    used += w.end();
  }
  return { buf, used, results: new Int32Array(specs.length * RESULT_FIELDS).fill(99) };
}

function result(r: Int32Array, i: number): number[] {
  return [...r.subarray(i * RESULT_FIELDS, (i + 1) * RESULT_FIELDS)];
}

describe('sysx.writeFiles (the batch record protocol)', () => {
  let work: string;
  let dirfd: number;
  before(() => {
    work = tempDir('file-batch');
    dirfd = fs.openSync(work, O_RDONLY | O_DIRECTORY);
  });
  after(() => {
    fs.closeSync(dirfd);
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('writes data, holes and a trailing hole, with mode and times to the nanosecond', () => {
    const a = Buffer.from('hello, batch\n');
    const b = Buffer.alloc(3000, 7);
    const { buf, used, results } = batchOf([
      { dirfd, name: 'plain', pieces: [{ offset: 0, data: a }], size: a.length, perm: 0o4751 },
      // Two adjacent pieces become one segment; a hole between; a trailing hole to 20000.
      { dirfd, name: 'sparse', pieces: [{ offset: 0, data: b.subarray(0, 1000) }, { offset: 1000, data: b.subarray(1000) }, { offset: 8192, data: a }], size: 20000, mtime: [-86400, 999999999] },
      { dirfd, name: 'empty', size: 0 },
    ]);
    assert.equal(sysx.writeFiles(buf, used, results), 3);
    for (let i = 0; i < 3; i++) assert.deepEqual(result(results, i), [0, 0, 0, 0, 0]);
    const st = fs.statSync(path.join(work, 'plain'), { bigint: true });
    assert.ok(fs.readFileSync(path.join(work, 'plain')).equals(a));
    assert.equal(Number(st.mode) & 0o7777, 0o4751, 'fchmod keeps the set-id bits the umask cannot');
    assert.equal(st.mtimeNs, 1600000000123456789n);
    assert.equal(st.atimeNs, 1500000000000000005n);
    const sparse = fs.readFileSync(path.join(work, 'sparse'));
    assert.equal(sparse.length, 20000);
    assert.ok(sparse.subarray(0, 3000).equals(b));
    assert.ok(sparse.subarray(3000, 8192).equals(Buffer.alloc(5192)));
    assert.ok(sparse.subarray(8192, 8192 + a.length).equals(a));
    assert.equal(fs.statSync(path.join(work, 'sparse'), { bigint: true }).mtimeNs, -86400n * 1000000000n + 999999999n);
    assert.equal(fs.statSync(path.join(work, 'empty')).size, 0);
  });

  it('never replaces or follows an existing entry (EEXIST), and goes on with the next record', () => {
    fs.writeFileSync(path.join(work, 'taken'), 'old\n');
    const outside = path.join(work, 'outside-target');
    fs.symlinkSync(outside, path.join(work, 'planted'));
    const { buf, used, results } = batchOf([
      { dirfd, name: 'taken', pieces: [{ offset: 0, data: Buffer.from('new\n') }], size: 4 },
      { dirfd, name: 'planted', pieces: [{ offset: 0, data: Buffer.from('x') }], size: 1 },
      { dirfd, name: 'after', pieces: [{ offset: 0, data: Buffer.from('ok') }], size: 2 },
    ]);
    sysx.writeFiles(buf, used, results);
    assert.deepEqual(result(results, 0).slice(0, 2), [EEXIST, 1]);
    assert.deepEqual(result(results, 1).slice(0, 2), [EEXIST, 1]);
    assert.equal(result(results, 2)[0], 0);
    assert.equal(fs.readFileSync(path.join(work, 'taken'), 'utf8'), 'old\n');
    assert.ok(!fs.existsSync(outside), 'the symlink was not followed');
    assert.equal(fs.readFileSync(path.join(work, 'after'), 'utf8'), 'ok');
  });

  it('refuses names that could leave the directory, and a bad directory descriptor, file by file', () => {
    const { buf, used, results } = batchOf([
      { dirfd, name: '../escape', size: 0 },
      { dirfd, name: '..', size: 0 },
      { dirfd, name: '', size: 0 },
      { dirfd: 987654, name: 'nodir', size: 0 },
      { dirfd, name: 'x'.repeat(256), size: 0 },
      { dirfd, name: 'fine', size: 0 },
    ]);
    assert.equal(sysx.writeFiles(buf, used, results), 6);
    assert.deepEqual(result(results, 0).slice(0, 2), [EINVAL, 1]);
    assert.deepEqual(result(results, 1).slice(0, 2), [EINVAL, 1]);
    assert.deepEqual(result(results, 2).slice(0, 2), [EINVAL, 1]);
    assert.deepEqual(result(results, 3).slice(0, 2), [EBADF, 1]);
    assert.equal(result(results, 4)[1], 1);
    assert.notEqual(result(results, 4)[0], 0);
    assert.equal(result(results, 5)[0], 0);
    assert.ok(!fs.existsSync(path.join(path.dirname(work), 'escape')));
  });

  it('stops at a malformed record instead of trusting lengths', () => {
    const { buf, used, results } = batchOf([{ dirfd, name: 'm1', size: 0 }, { dirfd, name: 'm2', size: 0 }]);
    buf.writeUInt32LE(12, 0);
    assert.equal(sysx.writeFiles(buf, used, results), 1);
    assert.equal(result(results, 0)[0], EINVAL);
    assert.ok(!fs.existsSync(path.join(work, 'm1')) && !fs.existsSync(path.join(work, 'm2')));
  });

  it('writeFilesAsync writes on the thread pool', async () => {
    const specs: Spec[] = [];
    for (let i = 0; i < 50; i++) specs.push({ dirfd, name: `async${i}`, pieces: [{ offset: 0, data: Buffer.from(`file ${i}\n`) }], size: `file ${i}\n`.length });
    const { buf, used, results } = batchOf(specs);
    assert.equal(await sysx.writeFilesAsync(buf, used, results), 50);
    for (let i = 0; i < 50; i++) {
      assert.equal(result(results, i)[0], 0);
      assert.equal(fs.readFileSync(path.join(work, `async${i}`), 'utf8'), `file ${i}\n`);
    }
  });

  it('recordPieces gives back exactly the data written into a record', () => {
    const d = Buffer.from('abcdefgh');
    const { buf } = batchOf([{ dirfd, name: 'r', pieces: [{ offset: 0, data: d.subarray(0, 3) }, { offset: 3, data: d.subarray(3) }, { offset: 4096, data: d }], size: 5000 }]);
    const got = recordPieces(buf, 0).map((p) => [p.offset, Buffer.from(p.data!).toString()]);
    assert.deepEqual(got, [[0, 'abcdefgh'], [4096, 'abcdefgh']]);
  });
});

describe('a full file system in the middle of a batch', { skip: !isRoot && 'needs root to mount a tmpfs' }, () => {
  it('removes the file that did not fit and attempts none after it', () => {
    const mnt = tempDir('file-batch-full');
    assert.equal(run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]).status, 0);
    try {
      const dirfd = fs.openSync(mnt, O_RDONLY | O_DIRECTORY);
      try {
        const big = Buffer.alloc(48 * 1024, 1);
        const { buf, used, results } = batchOf([
          { dirfd, name: 'first', pieces: [{ offset: 0, data: big }], size: big.length },
          { dirfd, name: 'second', pieces: [{ offset: 0, data: big }], size: big.length },
          { dirfd, name: 'third', pieces: [{ offset: 0, data: Buffer.from('x') }], size: 1 },
        ]);
        assert.equal(sysx.writeFiles(buf, used, results), 3);
        assert.equal(result(results, 0)[0], 0);
        assert.deepEqual(result(results, 1).slice(0, 2), [ENOSPC, 2]);
        assert.equal(result(results, 2)[0], NOT_DONE);
        assert.deepEqual(fs.readdirSync(mnt), ['first'], 'nothing partial is left');
      } finally {
        fs.closeSync(dirfd);
      }
    } finally {
      run('umount', [mnt]);
      fs.rmSync(mnt, { recursive: true, force: true });
    }
  });
});

// ------------------------------------------------------------------ FileBatcher

function inode(size: number, mode = 0o100644): DumpInode {
  return { mode, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, size, atime: 1, atimeUsec: 2, mtime: 1700000000, mtimeUsec: 3, flags: 0 } as unknown as DumpInode;
}

function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

async function* piecesOf(data: Buffer, chunk = 1000): AsyncGenerator<DataPiece> {
  for (let off = 0; off < data.length; off += chunk) yield { offset: off, data: data.subarray(off, off + chunk) };
}

describe('FileBatcher', () => {
  let work: string;
  before(() => { work = tempDir('file-batcher'); });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  function setup(root: string, dirCount: number): { dirs: DirTarget[]; target: (d: number, name: string) => LeafTarget } {
    const dirs: DirTarget[] = [];
    for (let i = 0; i < dirCount; i++) {
      const p = path.join(root, `d${i}`);
      fs.mkdirSync(p, { recursive: true });
      dirs.push({ path: Buffer.from(p), rec: null, parent: null, created: true, state: 'ok', isDest: false });
    }
    return { dirs, target: (d, name) => ({ path: Buffer.from(path.join(root, `d${d}`, name)), dir: dirs[d]!, dtype: 8 }) };
  }

  function sink(log: { written: number[]; undone: number[]; redone: Array<[number, string]>; skipped: string[]; warned: string[] }): BatchSink {
    const ctx = {
      env: { isRoot: false, euid: process.geteuid?.() ?? 0, egid: process.getegid?.() ?? 0, umask: 0o022, warn: (_c: string, p: Buffer, m: string) => log.warned.push(`${p}: ${m}`) },
      skip: (code: string, p: Buffer, m: string) => log.skipped.push(`${code} ${p}: ${m}`),
      onData: () => {},
      guard: null,
      inheritsGroup: () => false,
    } as unknown as ExtractContext;
    return {
      ctx,
      written: (f: BatchedFile) => log.written.push(f.ino),
      undone: (f: BatchedFile) => log.undone.push(f.ino),
      redo: async (f: BatchedFile, pieces: DataPiece[]) => { log.redone.push([f.ino, Buffer.concat(pieces.map((p) => p.data!)).toString()]); },
    };
  }

  const newLog = () => ({ written: [] as number[], undone: [] as number[], redone: [] as Array<[number, string]>, skipped: [] as string[], warned: [] as string[] });

  it('writes many files across small batches and evicted directory descriptors, closing every one', async () => {
    const root = path.join(work, 'many');
    const { target } = setup(root, 7);
    const log = newLog();
    const fds = openFds();
    const b = new FileBatcher(sink(log), { batchBytes: 8192, maxFiles: 3, inFlight: 2, maxFile: 4096, dirFds: 2 });
    for (let i = 1; i <= 60; i++) {
      const data = Buffer.from(`content of ${i}\n`.repeat(i % 5 + 1));
      const t = target(i % 7, `f${i}`);
      assert.ok(b.accepts(data.length, t));
      const f = await b.stage({ ino: i, inode: inode(data.length), target: t, offset: 0 }, piecesOf(data, 7), () => true);
      assert.ok(f && f.bytes === data.length);
      await b.seal();
    }
    await b.drain();
    assert.equal(openFds(), fds, 'every directory descriptor is closed');
    assert.deepEqual(log.written.sort((x, y) => x - y), Array.from({ length: 60 }, (_, i) => i + 1));
    assert.deepEqual([log.undone, log.redone, log.skipped, log.warned], [[], [], [], []]);
    for (let i = 1; i <= 60; i++) {
      const p = path.join(root, `d${i % 7}`, `f${i}`);
      assert.equal(fs.readFileSync(p, 'utf8'), `content of ${i}\n`.repeat(i % 5 + 1));
      assert.equal(fs.statSync(p, { bigint: true }).mtimeNs, 1700000000000003000n);
    }
  });

  it('takes the staged file back with its data, redoes a name that exists, reports incomplete data as not staged', async () => {
    const root = path.join(work, 'back');
    const { target } = setup(root, 1);
    fs.writeFileSync(path.join(root, 'd0', 'exists'), 'old');
    const log = newLog();
    const b = new FileBatcher(sink(log), { batchBytes: 1 << 16, maxFiles: 8, inFlight: 1, maxFile: 4096, dirFds: 4 });
    await b.stage({ ino: 1, inode: inode(5), target: target(0, 'kept'), offset: 0 }, piecesOf(Buffer.from('kept\n')), () => true);
    await b.seal();
    await b.stage({ ino: 2, inode: inode(9), target: target(0, 'xattrs'), offset: 0 }, piecesOf(Buffer.from('has EAs\n!'), 4), () => true);
    const back = b.takeBack();
    assert.equal(Buffer.concat(back.map((p) => p.data!)).toString(), 'has EAs\n!');
    assert.equal(await b.stage({ ino: 3, inode: inode(100), target: target(0, 'cut'), offset: 0 }, piecesOf(Buffer.from('partial')), () => false), null);
    await b.stage({ ino: 4, inode: inode(3), target: target(0, 'exists'), offset: 0 }, piecesOf(Buffer.from('new')), () => true);
    await b.seal();
    await b.drain();
    assert.deepEqual(log.written, [1]);
    assert.deepEqual(log.redone, [[4, 'new']]);
    assert.deepEqual(fs.readdirSync(path.join(root, 'd0')).sort(), ['exists', 'kept']);
    assert.equal(fs.readFileSync(path.join(root, 'd0', 'exists'), 'utf8'), 'old', 'the batch itself never replaces');
  });

  it('a file that fails in the writer is skipped with its errno; the others are written', async () => {
    const root = path.join(work, 'fail');
    const { target } = setup(root, 2);
    const log = newLog();
    const b = new FileBatcher(sink(log), { batchBytes: 1 << 16, maxFiles: 8, inFlight: 1, maxFile: 4096, dirFds: 4 });
    await b.stage({ ino: 1, inode: inode(2), target: target(0, 'a'), offset: 0 }, piecesOf(Buffer.from('ok')), () => true);
    await b.seal();
    await b.stage({ ino: 2, inode: inode(2), target: target(1, 'b'), offset: 0 }, piecesOf(Buffer.from('ok')), () => true);
    await b.seal();
    await b.stage({ ino: 3, inode: inode(2), target: target(0, 'c'), offset: 0 }, piecesOf(Buffer.from('ok')), () => true);
    await b.seal();
    // The directory of file 2 goes away after its descriptor was opened: openat fails (ENOENT).
    fs.rmdirSync(path.join(root, 'd1'));
    await b.drain();
    assert.deepEqual(log.written, [1, 3]);
    assert.deepEqual(log.undone, []);
    assert.equal(log.skipped.length, 1);
    assert.match(log.skipped[0]!, /^WRITE .*d1\/b: not restored: ENOENT, open /);
    assert.deepEqual(fs.readdirSync(path.join(root, 'd0')).sort(), ['a', 'c']);
  });

  it('running out of space: settle() throws StopRestore, the unwritten files are reported undone, nothing partial stays', { skip: !isRoot && 'needs root to mount a tmpfs' }, async () => {
    const mnt = tempDir('file-batcher-full');
    assert.equal(run('mount', ['-t', 'tmpfs', '-o', 'size=128k', 'tmpfs', mnt]).status, 0);
    try {
      const { target } = setup(mnt, 1);
      const log = newLog();
      const b = new FileBatcher(sink(log), { batchBytes: 1 << 20, maxFiles: 4, inFlight: 1, maxFile: 64 * 1024, dirFds: 4 });
      let stop: unknown = null;
      const staged: number[] = [];
      try {
        for (let i = 1; i <= 12; i++) {
          staged.push(i);
          const data = Buffer.alloc(40 * 1024, i);
          await b.stage({ ino: i, inode: inode(data.length), target: target(0, `f${i}`), offset: 0 }, piecesOf(data, 8192), () => true);
          await b.seal();
        }
        await b.drain();
      } catch (e) {
        stop = e;
        await b.drain('stopped');
      }
      assert.ok(stop instanceof StopRestore && stop.code === 'NO_SPACE', String(stop));
      const written = new Set(log.written);
      assert.ok(written.size >= 1 && written.size < 12);
      assert.equal(log.undone.filter((i) => written.has(i)).length, 0, 'nothing is both written and undone');
      const left = fs.readdirSync(path.join(mnt, 'd0'));
      assert.deepEqual(left.sort(), [...written].map((i) => `f${i}`).sort(), 'exactly the written files are there');
      for (const n of left) assert.equal(fs.statSync(path.join(mnt, 'd0', n)).size, 40 * 1024);
      assert.ok(staged.length < 12, 'it stopped before the end');
      for (const i of staged) assert.ok(written.has(i) || log.undone.includes(i), `file ${i} is accounted for`);
    } finally {
      run('umount', [mnt]);
      fs.rmSync(mnt, { recursive: true, force: true });
    }
  });
});
