/**
 * A LOCAL ndmjob backup of large files onto a virtual tape: their data goes onto the tape as runs
 * the kernel copies from the files (the server's log line says how many bytes), and the image
 * is the same as ever: Linux restore and `snapdump restore` (from the tape file directly and
 * from vtape-export) and ndmjob's own recover give back the tree, at record sizes that divide
 * the 1 KiB dump blocks and ones that do not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { snapdump } from '../helpers/cli.js';
import { buildFullTree, compareTrees, isRoot, pseudoRandom, run, snapshotTree } from '../helpers/tree.js';
import { tapeFileRecords } from '../../src/tape/virtual-tape-files.js';
import { ndmjob, skipNdmjob, startServer } from './helpers/harness.js';

const haveRestore = fs.existsSync('/usr/sbin/restore') || fs.existsSync('/sbin/restore');
const ignore = (rel: string) => rel === '.snapdump-restore.json' || rel === 'restoresymtable';

function same(src: string, dest: string): void {
  assert.deepEqual(compareTrees(snapshotTree(src), snapshotTree(dest, { ignore }), { mtimeResolutionNs: 1000n }), []);
}

/** Bytes of the regular files above 1 MiB under `dir` (what the engine may hand over as ranges). */
function largeFileBytes(dir: string): number {
  const found = run('find', [dir, '-type', 'f', '-size', '+1048576c', '-printf', '%s\\n']);
  assert.equal(found.status, 0, found.stderr);
  return found.stdout.toString().split('\n').filter(Boolean).reduce((n, l) => n + Number(l), 0);
}

function kernelBytes(logs: readonly string[]): number[] {
  return logs.flatMap((l) => {
    const m = /mover: (\d+) bytes on tape, (\d+) of them copied from files in the kernel/.exec(l);
    return m ? [Number(m[2])] : [];
  });
}

test('large files of a LOCAL backup are copied onto the virtual tape in the kernel; restores give back the tree', { skip: skipNdmjob || (!haveRestore && 'needs Linux restore') || (!isRoot && 'needs root') }, async () => {
  const h = await startServer();
  try {
    const src = path.join(h.dir, 'vol', 'src');
    buildFullTree(src);
    // Above the engine's 1 MiB task size, so copied rather than read; odd sizes end mid-block.
    fs.writeFileSync(path.join(src, 'big1.bin'), pseudoRandom(3 * 1024 * 1024 + 123, 11));
    fs.writeFileSync(path.join(src, 'big2.bin'), pseudoRandom(5 * 1024 * 1024, 12));
    fs.mkdirSync(path.join(src, 'deep'), { recursive: true });
    fs.writeFileSync(path.join(src, 'deep', 'big3.bin'), pseudoRandom(1024 * 1024 + 4097, 13));
    const bigBytes = 3 * 1024 * 1024 + 123 + 5 * 1024 * 1024 + 1024 * 1024 + 4097;

    for (const [tapeName, blocks] of [['tape0', 20], ['tape1', 7]] as const) {
      const before = kernelBytes(h.logs).length;
      const c = await ndmjob(['-c', '-D', h.agent('t'), '-B', 'dump', '-C', src, '-f', tapeName, '-b', String(blocks), '-E', 'UPDATE=n', '-v'], { cwd: h.dir });
      assert.match(c.output, /Operation ended OKAY/, c.output.slice(-2000));
      const k = kernelBytes(h.logs).slice(before);
      assert.equal(k.length, 1, h.logs.join('\n'));
      // Nearly all of the large files' data went the kernel's way (not the record or two at the
      // ends of each 512 KiB piece); nothing more than the data of the files above 1 MiB.
      assert.ok(k[0]! > bigBytes * 0.9 && k[0]! <= largeFileBytes(src), `${k[0]} of ${bigBytes} bytes copied in the kernel (record size ${blocks * 512})`);
      const tape = path.join(h.dir, tapeName);

      const image = path.join(h.dir, `${tapeName}.dump`);
      const ex = snapdump(['vtape-export', '-f', tape, '-o', image]);
      assert.equal(ex.status, 0, ex.stderr);
      assert.equal(fs.statSync(image).size % (blocks * 512), 0);
      const viaLinux = path.join(h.dir, `${tapeName}-linux`);
      fs.mkdirSync(viaLinux);
      const rr = run('restore', ['-r', '-y', '-f', image], { cwd: viaLinux });
      assert.equal(rr.status, 0, rr.stderr);
      assert.doesNotMatch(rr.stderr, /expected next file|Missing address|Mangled|unknown file mode|resync/i, rr.stderr);
      same(src, viaLinux);

      const viaSnapdump = path.join(h.dir, `${tapeName}-snap`);
      const sr = snapdump(['restore', '-f', tape, '-C', viaSnapdump, '--quiet']);
      assert.equal(sr.status, 0, sr.stderr);
      same(src, viaSnapdump);
      const vr = snapdump(['verify', '-f', tape, '-C', src, '--quiet']);
      assert.equal(vr.status, 0, vr.stderr);

      // ndmjob's recover: the mover reads the runs back, record by record, at the offsets asked for.
      const viaNdmp = path.join(h.dir, 'vol', `${tapeName}-ndmp`);
      const x = await ndmjob(['-x', '-D', h.agent('t'), '-B', 'dump', '-C', viaNdmp, '-f', tapeName, '-b', String(blocks), '-v'], { cwd: h.dir });
      assert.match(x.output, /Operation ended OKAY/, x.output.slice(-2000));
      same(src, viaNdmp);
    }
  } finally {
    await h.close();
  }
});

test('with file history the large files are copied in the kernel too, and the history is the one read back from tape', { skip: skipNdmjob }, async () => {
  const h = await startServer();
  try {
    const src = path.join(h.dir, 'vol', 'src');
    buildFullTree(src);
    fs.writeFileSync(path.join(src, 'big1.bin'), pseudoRandom(3 * 1024 * 1024 + 123, 31));
    fs.mkdirSync(path.join(src, 'deep'), { recursive: true });
    fs.writeFileSync(path.join(src, 'deep', 'big2.bin'), pseudoRandom(2 * 1024 * 1024 + 4097, 32));
    const bigBytes = 3 * 1024 * 1024 + 123 + 2 * 1024 * 1024 + 4097;
    const idx = path.join(h.dir, 'backup.idx');
    const c = await ndmjob(['-c', '-D', h.agent('t'), '-B', 'dump', '-C', src, '-f', 'tape0', '-I', idx, '-E', 'UPDATE=n', '-v'], { cwd: h.dir });
    assert.match(c.output, /Operation ended OKAY/, c.output.slice(-2000));
    assert.ok(!h.logs.some((l) => /file history incomplete/.test(l)), h.logs.join('\n'));
    const k = kernelBytes(h.logs);
    assert.equal(k.length, 1, h.logs.join('\n'));
    assert.ok(k[0]! > bigBytes * 0.9 && k[0]! <= largeFileBytes(src), `${k[0]} of ${bigBytes} bytes copied in the kernel`);

    // The history posted while the image was written (headers scanned, copied data skipped) is
    // exactly the one the table of contents reads back from the tape (the full image reader).
    const toc = path.join(h.dir, 'toc.idx');
    const t = await ndmjob(['-t', '-D', h.agent('t'), '-B', 'dump', '-f', 'tape0', '-I', toc, '-v'], { cwd: h.dir });
    assert.match(t.output, /Operation ended OKAY/, t.output.slice(-2000));
    const dh = (file: string) => fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('DHd ') || l.startsWith('DHn ')).sort();
    const posted = dh(idx);
    assert.ok(posted.filter((l) => l.startsWith('DHn ')).length > 10, posted.join('\n'));
    assert.deepEqual(dh(toc), posted);

    // Direct access recovery by the fh_info of a copied file: only that file is read back.
    const sel = path.join(h.dir, 'vol', 'sel');
    fs.mkdirSync(sel);
    const x = await ndmjob(['-x', '-D', h.agent('t'), '-B', 'dump', '-f', 'tape0', '-C', sel, '-J', idx, 'deep/big2.bin', '-v'], { cwd: h.dir });
    assert.match(x.output, /Operation ended OKAY/, x.output.slice(-2000));
    assert.deepEqual(fs.readFileSync(path.join(sel, 'deep', 'big2.bin')), fs.readFileSync(path.join(src, 'deep', 'big2.bin')));
  } finally {
    await h.close();
  }
});

test('a tape with a capacity: runs that fit are copied, then records as far as they fit, then EOM as ever', { skip: skipNdmjob }, async () => {
  const capacity = 2 * 1024 * 1024;
  const h = await startServer({ tapeCapacity: [`tape0=${capacity}`] });
  try {
    const src = path.join(h.dir, 'vol', 'src');
    fs.mkdirSync(src, { recursive: true });
    fs.writeFileSync(path.join(src, 'big.bin'), pseudoRandom(3 * 1024 * 1024, 21));
    const c = await ndmjob(['-c', '-D', h.agent('t'), '-B', 'dump', '-C', src, '-f', 'tape0', '-E', 'UPDATE=n', '-v'], { cwd: h.dir });
    assert.match(c.output, /At EOM, not writing filemarks/, c.output.slice(-2500));
    assert.match(c.output, /Operation ended questionably/);
    const k = kernelBytes(h.logs);
    assert.equal(k.length, 1, h.logs.join('\n'));
    // (Before the file come the inode maps, whose size depends on the file system.)
    assert.ok(k[0]! >= 512 * 1024 && k[0]! < capacity, `${k[0]} bytes copied in the kernel`);
    // Filled up to less than one record entry short of the capacity, in whole 10240-byte records.
    const tape = path.join(h.dir, 'tape0');
    const size = fs.statSync(tape).size;
    assert.ok(size <= capacity && size > capacity - 10240 - 16, `${size} bytes of ${capacity}`);
    let bytes = 0;
    for await (const r of tapeFileRecords(tape)) { assert.equal(r.length, 10240); bytes += r.length; }
    // The image so far: its file data is the file's, from where its first data block lies on.
    const image = Buffer.concat([...await collect(tapeFileRecords(tape))]);
    assert.equal(image.length, bytes);
    const data = pseudoRandom(3 * 1024 * 1024, 21);
    const probe = data.subarray(1024 * 1024, 1024 * 1024 + 4096);
    assert.ok(image.indexOf(probe) > 0, 'the file data copied in the kernel is on tape');
    assert.equal(h.server.context.tapesInUse.size, 0);
  } finally {
    await h.close();
  }
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
