/**
 * The main thread's batched reader (read-files-batch.ts) against readFiles: the same output for
 * every kind of object and every way a file can change between the plan and the read.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { isRoot, removeTree, tempDir } from '../helpers/tree.js';
import { compareReaders, readTasksOf, type PlannedTasks } from '../helpers/read-tasks.js';
import type { ReadNote } from '../../src/workers/read-protocol.js';
import { mainThreadReader } from '../../src/workers/reader.js';

const tmp = tempDir('read-batch');
after(() => removeTree(tmp));

let seq = 0;
function freshDir(): string {
  const d = path.join(tmp, `t${seq++}`);
  fs.mkdirSync(d);
  return d;
}

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >> 10)) & 0xff;
  return b;
}

/** Compares every task of `p`; returns all notes (in task order). */
function compareAll(p: PlannedTasks): ReadNote[] {
  const notes: ReadNote[] = [];
  for (const task of p.tasks) notes.push(...compareReaders(p, task).notes);
  return notes;
}

function setXattr(file: string, name: string, value: string): void {
  execFileSync('setfattr', ['-n', name, '-v', value, file]);
}

/**
 * A tree with every case, created in an order that interleaves them in inode order (the tasks'
 * order): a vanished file before batched ones (later data moves back), EAs before batched ones
 * (the output grows), and so on. `mutate` runs after planning.
 */
function mixedTree(dir: string): () => void {
  const f = (name: string | Buffer, data: Buffer) => fs.writeFileSync(typeof name === 'string' ? path.join(dir, name) : Buffer.concat([Buffer.from(`${dir}/`), name]), data);
  f('a-small', bytes(100, 1));
  f('b-vanishes', bytes(5000, 2));
  f('c-small', bytes(3000, 3));
  f('d-empty', Buffer.alloc(0));
  f('e-xattrs', bytes(2500, 4));
  setXattr(path.join(dir, 'e-xattrs'), 'user.one', 'first');
  setXattr(path.join(dir, 'e-xattrs'), 'user.two', 'x'.repeat(1500));
  f('f-1k', bytes(1024, 5));
  f('g-grows', bytes(4000, 6));
  f('h-shrinks', bytes(9000, 7));
  fs.symlinkSync('a-small', path.join(dir, 'i-symlink'));
  f(Buffer.from([0x6a, 0xff, 0xfe, 0x2d]), bytes(777, 8)); // not UTF-8
  const sparse = path.join(dir, 'k-sparse');
  const fd = fs.openSync(sparse, 'w');
  fs.writeSync(fd, bytes(4096, 9), 0, 4096, 100 * 1024);
  fs.ftruncateSync(fd, 300 * 1024);
  fs.closeSync(fd);
  f('l-becomes-link', bytes(2000, 10));
  f('m-512k', bytes(512 * 1024, 11));
  f('n-512k1', bytes(512 * 1024 + 1, 12));
  execFileSync('mkfifo', [path.join(dir, 'o-fifo')]);
  f('p-touched', bytes(6000, 13));
  f('q-last', bytes(1, 14));
  return () => {
    fs.rmSync(path.join(dir, 'b-vanishes'));
    fs.appendFileSync(path.join(dir, 'g-grows'), 'more');
    fs.truncateSync(path.join(dir, 'h-shrinks'), 100);
    fs.rmSync(path.join(dir, 'l-becomes-link'));
    fs.symlinkSync('a-small', path.join(dir, 'l-becomes-link'));
    // Same size, new content and times: only the times show it.
    fs.writeFileSync(path.join(dir, 'p-touched'), bytes(6000, 99));
  };
}

describe('readFilesBatched gives the bytes and notes of readFiles', () => {
  it('many small files, in several tasks', async () => {
    const dir = freshDir();
    for (let i = 0; i < 300; i++) fs.writeFileSync(path.join(dir, `f${i}`), bytes((i * 977) % 20000, i));
    const p = await readTasksOf(dir);
    assert.ok(p.tasks.length > 4);
    assert.deepEqual(compareAll(p), []);
  });

  it('files of 0 bytes, 1 KiB ± 1, 512 KiB and 512 KiB + 1 (two headers)', async () => {
    const dir = freshDir();
    for (const n of [0, 1, 1023, 1024, 1025, 512 * 1024 - 1, 512 * 1024, 512 * 1024 + 1]) fs.writeFileSync(path.join(dir, `s${n}`), bytes(n, n));
    const p = await readTasksOf(dir);
    assert.deepEqual(compareAll(p), []);
  });

  for (const [label, taskBytes, taskItems] of [['in the main thread\'s tasks', 256 << 10, 64], ['all in one task', 8 << 20, 256]] as const) {
    it(`every case mixed, ${label}: EAs, sparse, symlink, FIFO, non-UTF-8 name, vanished, grown, shrunk, replaced, touched`, async () => {
      const dir = freshDir();
      const mutate = mixedTree(dir);
      const p = await readTasksOf(dir, taskBytes, taskItems);
      mutate();
      const notes = compareAll(p);
      const byName = (code: string) => notes.filter((n) => n.code === code).map((n) => path.basename(n.path)).sort();
      // The comparison is only as good as the cases it met.
      assert.deepEqual(byName('VANISHED'), ['b-vanishes']);
      assert.deepEqual(byName('CHANGED'), ['g-grows', 'h-shrinks', 'p-touched']);
      assert.deepEqual(byName('UNREADABLE'), ['l-becomes-link']);
      assert.match(notes.find((n) => n.code === 'UNREADABLE')!.message, /ELOOP/);
    });
  }

  it('a file replaced by a directory fails both readers alike (EISDIR)', async () => {
    const dir = freshDir();
    fs.writeFileSync(path.join(dir, 'a'), bytes(10, 1));
    fs.writeFileSync(path.join(dir, 'b'), bytes(10, 2));
    const p = await readTasksOf(dir);
    fs.rmSync(path.join(dir, 'b'));
    fs.mkdirSync(path.join(dir, 'b'));
    const r = compareReaders(p, p.tasks[0]!);
    assert.equal(r.failed, true);
  });

  it('an unreadable file (permission denied) is reported alike', async () => {
    const dir = freshDir();
    fs.chmodSync(tmp, 0o755);
    for (const n of ['a', 'b', 'c']) fs.writeFileSync(path.join(dir, n), bytes(3000, n.charCodeAt(0)));
    const target = path.join(dir, 'b');
    // Root reads any file: the readers then run as nobody, who owns the file to lock itself out.
    const helper = new URL('../helpers/read-tasks.js', import.meta.url).href;
    const script = `
      import * as fs from 'node:fs';
      const { compareReaders, readTasksOf } = await import(${JSON.stringify(helper)});
      const p = await readTasksOf(${JSON.stringify(dir)});
      fs.chmodSync(${JSON.stringify(target)}, 0);
      const notes = [];
      for (const t of p.tasks) notes.push(...compareReaders(p, t).notes);
      console.log(JSON.stringify(notes));`;
    if (isRoot) fs.chownSync(target, 65534, 65534);
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', ...(isRoot ? { uid: 65534, gid: 65534 } : {}) });
    assert.equal(r.status, 0, r.stderr);
    const notes = JSON.parse(r.stdout) as ReadNote[];
    assert.equal(notes.length, 1, r.stdout);
    assert.equal(notes[0]!.code, 'UNREADABLE');
    assert.match(notes[0]!.message, /EACCES/);
  });

  it('random trees and changes (fast-check)', async () => {
    const fileArb = fc.record({
      size: fc.oneof(fc.integer({ min: 0, max: 4096 }), fc.integer({ min: 0, max: 600 * 1024 })),
      xattr: fc.option(fc.integer({ min: 1, max: 1800 }), { freq: 4 }),
      change: fc.constantFrom('none', 'none', 'none', 'delete', 'append', 'truncate', 'rewrite', 'symlink', 'xattr'),
    });
    await fc.assert(fc.asyncProperty(fc.array(fileArb, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 64 }), async (files, taskItems) => {
      const dir = freshDir();
      try {
        files.forEach((f, i) => {
          const file = path.join(dir, `f${i}`);
          fs.writeFileSync(file, bytes(f.size, i));
          if (f.xattr !== null) setXattr(file, 'user.v', 'v'.repeat(f.xattr));
        });
        const p = await readTasksOf(dir, 256 << 10, taskItems);
        files.forEach((f, i) => {
          const file = path.join(dir, `f${i}`);
          if (f.change === 'delete') fs.rmSync(file);
          else if (f.change === 'append') fs.appendFileSync(file, 'x');
          else if (f.change === 'truncate') fs.truncateSync(file, Math.floor(f.size / 2));
          else if (f.change === 'rewrite') fs.writeFileSync(file, bytes(f.size, i + 1));
          else if (f.change === 'symlink') { fs.rmSync(file); fs.symlinkSync('/', file); }
          else if (f.change === 'xattr') setXattr(file, 'user.late', 'late');
        });
        compareAll(p);
      } finally {
        removeTree(dir);
      }
    }), { numRuns: 25 });
  });
});

describe('mainThreadReader', () => {
  it('reads with the batched reader, and an aborted run rejects before it reads', async () => {
    const reader = await mainThreadReader();
    const dir = freshDir();
    fs.writeFileSync(path.join(dir, 'a'), 'a');
    const p = await readTasksOf(dir);
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await assert.rejects(reader.run({ ...p.tasks[0]!, slot: new SharedArrayBuffer(1 << 20) }, { signal: ac.signal }), /stop/);
    const r = await reader.run({ ...p.tasks[0]!, slot: new SharedArrayBuffer(1 << 20) }, {});
    assert.equal(r.dataBytes, 1);
  });
});
