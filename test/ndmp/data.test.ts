/**
 * The DATA service with butype dump, driven by the real ndmjob: `-o test-data`, then backups at
 * levels 0 and 1 (`-c`), tables of contents (`-t`) and restores (`-x` whole, selective, with
 * renames), over one connection (LOCAL) and over separate DATA and TAPE connections (TCP).
 * ndmjob is judged by its output; every restored tree is compared with its source.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildFullTree, compareTrees, snapshotTree } from '../helpers/tree.js';
import { finalLine, ndmjob, skipNdmjob, startServer, type Harness } from './helpers/harness.js';

const STATE_FILE = '.snapdump-restore.json';

function assertOkay(out: string, what: string): void {
  assert.match(out, /SESS "Operation ended OKAY"/, `${what}:\n${out.slice(-2500)}`);
  assert.doesNotMatch(out, /Operation ended (questionably|in failure)|had problems/, `${what}:\n${out.slice(-2500)}`);
}

function sameTree(src: string, dest: string): void {
  const ignore = (rel: string) => rel === STATE_FILE || rel.startsWith('.snapdump-holding');
  const diffs = compareTrees(snapshotTree(src, { ignore }), snapshotTree(dest, { ignore }), { mtimeResolutionNs: 1000n });
  assert.deepEqual(diffs, []);
}

test('ndmjob -o test-data passes with fail=0 and warn=0', { skip: skipNdmjob }, async () => {
  const h = await startServer();
  try {
    const r = await ndmjob(['-o', 'test-data', '-D', h.agent('t'), '-v']);
    assert.match(finalLine(r.output) ?? r.output.slice(-3000), /FINAL test-data Passed -- pass=\d+ warn=0 fail=0/);
    assert.match(r.output, /LOCAL and TCP addressing tested/);
  } finally {
    await h.close();
  }
});

async function scenario(h: Harness, agents: string[]): Promise<void> {
  const vol = path.join(h.dir, 'vol');
  const src = path.join(vol, 'src');
  buildFullTree(src);
  // Incrementals compare with the level 0's date in whole seconds: let that second pass.
  await new Promise((r) => setTimeout(r, 1100));
  const idx0 = path.join(h.dir, 'level0.idx');
  const job = (args: string[]) => ndmjob([...args, ...agents, '-B', 'dump', '-v'], { cwd: h.dir });

  // Level 0 with file history.
  const c0 = await job(['-c', '-C', src, '-f', 'tape0', '-I', idx0, '-E', 'LEVEL=0']);
  assertOkay(c0.output, 'level 0 backup');
  const index = fs.readFileSync(idx0, 'utf8');
  assert.match(index, /^DHd 2 \. UNIX 2$/m);
  assert.match(index, /^DHd 2 \.\. UNIX 2$/m);
  assert.match(index, /^DE DUMP_DATE=\d+$/m);
  assert.match(index, /^DE LEVEL=0$/m);
  const nodes = index.split('\n').filter((l) => l.startsWith('DHn ')).length;
  const inodes = snapshotTree(src, { includeRoot: true });
  assert.ok(nodes >= new Set([...inodes.values()].map((e) => e.hash ?? e.type)).size / 2 && nodes > 10, `${nodes} nodes in the file history`);
  // fh_info: byte offsets of TS_INODE headers, multiples of 1 KiB.
  for (const m of index.matchAll(/^DHn \d+ .* @(\d+)$/gm)) assert.equal(Number(m[1]) % 1024, 0);

  // Table of contents: the same file history read back from tape.
  const tocIdx = path.join(h.dir, 'toc.idx');
  const t = await job(['-t', '-f', 'tape0', '-I', tocIdx]);
  assertOkay(t.output, 'table of contents');
  const dh = (text: string) => text.split('\n').filter((l) => l.startsWith('DHd ') || l.startsWith('DHn ')).sort();
  assert.deepEqual(dh(fs.readFileSync(tocIdx, 'utf8')), dh(index));

  // Whole restore.
  const whole = path.join(vol, 'restore-whole');
  fs.mkdirSync(whole);
  const x = await job(['-x', '-f', 'tape0', '-C', whole, '-J', idx0]);
  assertOkay(x.output, 'whole restore');
  sameTree(src, whole);

  // Selective, with a rename.
  const sel = path.join(vol, 'restore-sel');
  fs.mkdirSync(sel);
  const xs = await job(['-x', '-f', 'tape0', '-C', sel, '-J', idx0, 'small.txt', 'renamed.bin=odd5000.bin']);
  assertOkay(xs.output, 'selective restore');
  assert.match(xs.output, /LOG_FILE messages: 2 OK, 0 ERROR, total 2 of 2/);
  assert.deepEqual(fs.readdirSync(sel).filter((n) => n !== STATE_FILE).sort(), ['renamed.bin', 'small.txt']);
  assert.deepEqual(fs.readFileSync(path.join(sel, 'renamed.bin')), fs.readFileSync(path.join(src, 'odd5000.bin')));
  assert.deepEqual(fs.readFileSync(path.join(sel, 'small.txt')), fs.readFileSync(path.join(src, 'small.txt')));
  // Every entry had an fh_info from the index: direct access, only the head and the two files read.
  assert.match(xs.output, /direct access recovery: reading only the directory phase and the requested files/);
  const moved = (out: string) => Math.max(...[...out.matchAll(/MOVER: read (\d+)KB/g)].map((m) => Number(m[1])), 0);
  const media = Number(/CM 01 \+0\/(\d+)K/.exec(index)![1]);
  assert.ok(moved(xs.output) < media / 2, `DAR read ${moved(xs.output)} KB of ${media} KB`);

  // A directory (its files have no offsets of their own): read on in order after the head.
  const dirSel = path.join(vol, 'restore-dir');
  fs.mkdirSync(dirSel);
  const xd = await job(['-x', '-f', 'tape0', '-C', dirSel, '-J', idx0, 'sub']);
  assertOkay(xd.output, 'directory restore');
  assert.match(xd.output, /a directory was requested: reading the image in order/);
  sameTree(path.join(src, 'sub'), path.join(dirSel, 'sub'));

  // Level 1 after changes, to a second tape; applied over the level 0 restore it gives the new tree.
  await new Promise((r) => setTimeout(r, 1100));
  fs.writeFileSync(path.join(src, 'exact3k.bin'), 'changed after the level 0\n');
  fs.writeFileSync(path.join(src, 'added.txt'), 'new in level 1\n');
  fs.rmSync(path.join(src, 'empty'));
  const idx1 = path.join(h.dir, 'level1.idx');
  const c1 = await job(['-c', '-C', src, '-f', 'tape1', '-I', idx1, '-E', 'LEVEL=1']);
  assertOkay(c1.output, 'level 1 backup');
  assert.match(fs.readFileSync(idx1, 'utf8'), /^DE LEVEL=1$/m);
  assert.ok(fs.readFileSync(idx1, 'utf8').split('\n').filter((l) => l.startsWith('DHn ')).length < nodes, c1.output.split('\n').filter((l) => l.startsWith('DLM')).join('\n'));
  const x1 = await job(['-x', '-f', 'tape1', '-C', whole, '-J', idx1]);
  assertOkay(x1.output, 'level 1 restore');
  sameTree(src, whole);
}

test('backup, list and restore over one connection (LOCAL)', { skip: skipNdmjob }, async () => {
  const h = await startServer({ tapes: [] });
  try {
    await scenario(h, ['-D', h.agent('t')]);
    assert.equal(h.server.context.tapesInUse.size, 0);
  } finally {
    await h.close();
  }
});

test('backup, list and restore over separate DATA and TAPE connections (TCP, MD5 on the tape side)', { skip: skipNdmjob }, async () => {
  const h = await startServer({ tapes: [] });
  try {
    await scenario(h, ['-D', h.agent('t'), '-T', h.agent('m')]);
  } finally {
    await h.close();
  }
});

test('EXCLUDE (ONTAP rules) leaves entries out of an ndmjob backup; a bad pattern fails the job', { skip: skipNdmjob }, async () => {
  const h = await startServer();
  try {
    const src = path.join(h.dir, 'vol', 'excl');
    fs.mkdirSync(path.join(src, 'cache'), { recursive: true });
    fs.writeFileSync(path.join(src, 'keep.txt'), 'keep');
    fs.writeFileSync(path.join(src, 'skip.tmp'), 'skip');
    fs.writeFileSync(path.join(src, 'cache', 'big'), 'skip');
    const job = (args: string[]) => ndmjob([...args, '-D', h.agent('t'), '-B', 'dump', '-v'], { cwd: h.dir });
    const c = await job(['-c', '-C', src, '-f', 'tape0', '-E', 'LEVEL=0', '-E', 'EXCLUDE=*.tmp,cache']);
    assertOkay(c.output, 'backup with EXCLUDE');
    const dest = path.join(h.dir, 'vol', 'excl-restored');
    fs.mkdirSync(dest);
    const x = await job(['-x', '-f', 'tape0', '-C', dest]);
    assertOkay(x.output, 'restore');
    assert.deepEqual(fs.readdirSync(dest).filter((n) => !n.startsWith('.snapdump')).sort(), ['keep.txt']);
    const bad = await job(['-c', '-C', src, '-f', 'tape1', '-E', 'LEVEL=0', '-E', 'EXCLUDE=a*b']);
    assert.doesNotMatch(bad.output, /SESS "Operation ended OKAY"/);
    assert.match(bad.output, /pattern/i, bad.output.slice(-2000));
  } finally {
    await h.close();
  }
});
