/**
 * Damaged images: every intact file is restored exactly, every lost one is named with the byte
 * offset of the damage, nothing half-written is left, and the exit status is 1. Input that is
 * not a dump at all is ERR_NOT_DUMP (exit status 2) and nothing is written.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { backup } from '../../src/backup.js';
import { listImage } from '../../src/read/list.js';
import { restore, type RestoreSummary } from '../../src/restore/index.js';
import { pseudoRandom, tempDir } from '../helpers/tree.js';
import { headerOffsets, listTree, memInput, removeRestored, restoreCli } from '../helpers/image-builder.js';

const SAMPLES = fileURLToPath(new URL('../../../../shared/samples/linux-dump-0.4b47/', import.meta.url));

let work: string;
let src: string;
let image: Buffer;
/** Relative path → contents of every file of the source. */
const contents = new Map<string, Buffer>();
/** Relative path → inode in the image. */
const inoOf = new Map<string, number>();
/** Inode → byte offset of its first header. */
const firstHeader = new Map<number, number>();
let n = 0;

before(async () => {
  work = tempDir('restore-damage');
  src = path.join(work, 'src');
  for (const d of ['a', 'b']) fs.mkdirSync(path.join(src, d), { recursive: true });
  for (let i = 0; i < 12; i++) {
    const rel = `a/f${String(i).padStart(2, '0')}`;
    // f05 spans three headers (512 KiB each); the others are small.
    const data = pseudoRandom(i === 5 ? 1_300_000 : 100 + i * 2000, i + 1);
    fs.writeFileSync(path.join(src, rel), data);
    contents.set(rel, data);
  }
  for (const name of ['x', 'y']) {
    const rel = `b/${name}`;
    const data = Buffer.from(`in b: ${name}\n`);
    fs.writeFileSync(path.join(src, rel), data);
    contents.set(rel, data);
  }
  const file = path.join(work, 'good.dump');
  await backup({ source: src, output: file, threads: 1, onInode: (ino, off) => firstHeader.set(ino, off) });
  image = fs.readFileSync(file);
  for (const e of (await listImage({ files: [file] })).entries) inoOf.set(e.path.slice(2), e.ino);
});
after(() => removeRestored(work));

/**
 * As a stream, or as an image file: a file's long data runs are then copied with sendfile, not
 * read (RangePiece), and the damage must come out the same.
 */
async function restoreImage(img: Buffer, via: 'stream' | 'file' = 'stream'): Promise<{ dest: string; s: RestoreSummary }> {
  const dest = path.join(work, `d${++n}`);
  if (via === 'stream') return { dest, s: await restore({ files: [], inputs: [memInput(img)], dest, force: true }) };
  const file = `${dest}.dump`;
  fs.writeFileSync(file, img);
  const s = await restore({ files: [file], dest, force: true });
  return { dest, s };
}

/** Every file is either restored exactly or reported as not restored; returns the lost ones. */
function check(dest: string, s: RestoreSummary): string[] {
  const lost: string[] = [];
  for (const [rel, data] of contents) {
    const p = path.join(dest, rel);
    const reported = s.skipped.find((k) => k.path === p);
    if (fs.existsSync(p)) {
      assert.ok(fs.readFileSync(p).equals(data), `${rel} is restored exactly`);
      assert.equal(reported, undefined, `${rel} is restored and not reported`);
    } else if (reported) {
      lost.push(rel);
    } else if (!s.skipped.some((k) => p.startsWith(k.path + '/'))) {
      assert.fail(`${rel} is neither restored nor reported`);
    }
  }
  assert.deepEqual(listTree(dest).filter((x) => x !== '.snapdump-restore.json').filter((x) => x.includes('.snapdump') && x !== '.snapdump-restore.json'), [], 'no temporary file left');
  return lost;
}

function damaged(edit: (img: Buffer) => Buffer | void): Buffer {
  const copy = Buffer.from(image);
  return edit(copy) ?? copy;
}

describe('restore of damaged images', () => {
  it('the intact image restores with status 0', async () => {
    const { dest, s } = await restoreImage(image);
    assert.equal(s.exitStatus, 0);
    assert.deepEqual(check(dest, s), []);
  });

  it('a bad file header: that file is reported lost with the offset, every other file is exact', async () => {
    const off = firstHeader.get(inoOf.get('a/f03')!)!;
    const { dest, s } = await restoreImage(damaged((b) => { b[off + 200]! ^= 0x10; }));
    assert.deepEqual(check(dest, s), ['a/f03']);
    const k = s.skipped.find((x) => x.path.endsWith('a/f03'))!;
    assert.equal(k.code, 'LOST');
    assert.equal(k.offset, off);
    assert.match(k.message, new RegExp(`byte ${off}`));
    assert.equal(s.damage[0]!.offset, off);
    assert.equal(s.exitStatus, 1);
  });

  it('a bad continuation header in a large file: the file is removed and reported, not left with a gap', async () => {
    const ino = inoOf.get('a/f05')!;
    const addr = headerOffsets(image).filter((h) => h.ino === ino && h.type === 4);
    assert.equal(addr.length, 2);
    const { dest, s } = await restoreImage(damaged((b) => { b.fill(0x55, addr[0]!.offset, addr[0]!.offset + 1024); }));
    assert.deepEqual(check(dest, s), ['a/f05']);
    assert.equal(s.skipped.find((x) => x.path.endsWith('a/f05'))!.offset, addr[0]!.offset);
  });

  for (const via of ['stream', 'file'] as const) {
    it(`a large file read ${via === 'file' ? 'from an image file (copied by ranges)' : 'from a stream'}: exact, and cut by a truncation: removed and reported at the cut`, async () => {
      const whole = await restoreImage(image, via);
      assert.equal(whole.s.exitStatus, 0);
      assert.deepEqual(check(whole.dest, whole.s), []);
      assert.ok(fs.readFileSync(path.join(whole.dest, 'a/f05')).equals(contents.get('a/f05')!));
      const start = firstHeader.get(inoOf.get('a/f05')!)!;
      for (const cut of [start + 700 * 1024 + 100, start + 1100 * 1024]) {
        const { dest, s } = await restoreImage(image.subarray(0, cut), via);
        const lost = check(dest, s);
        assert.ok(lost.includes('a/f05'), `cut at ${cut}: f05 reported`);
        assert.ok(!fs.existsSync(path.join(dest, 'a/f05')), 'the cut file is not left half-written');
        const truncated = s.damage.find((d) => d.code === 'ERR_TRUNCATED')!;
        assert.equal(truncated.offset, cut - (cut % 1024), `cut at ${cut}: reported where the last whole block ends`);
        assert.equal(s.skipped.find((k) => k.path.endsWith('a/f05'))!.offset, truncated.offset);
        assert.equal(s.exitStatus, 1);
      }
    });
  }

  it('garbage between objects: resynchronised, everything restored, the damage reported', async () => {
    const at = firstHeader.get(inoOf.get('a/f08')!)!;
    const img = Buffer.concat([image.subarray(0, at), pseudoRandom(5 * 1024, 99), image.subarray(at)]);
    const { dest, s } = await restoreImage(img);
    assert.deepEqual(check(dest, s), []);
    assert.deepEqual(s.damage.map((d) => d.offset), [at]);
    assert.equal(s.exitStatus, 1);
  });

  it('a truncated image: files before the cut are exact, the one cut and all after are reported at the cut', async () => {
    const start = firstHeader.get(inoOf.get('a/f05')!)!;
    const cut = start + 700 * 1024 + 100;
    const { dest, s } = await restoreImage(image.subarray(0, cut));
    const lost = check(dest, s);
    const ino5 = inoOf.get('a/f05')!;
    const after = [...inoOf].filter(([rel, ino]) => contents.has(rel) && ino >= ino5).map(([rel]) => rel).sort();
    assert.deepEqual(lost.sort(), after);
    assert.ok(!fs.existsSync(path.join(dest, 'a/f05')), 'the cut file is not left half-written');
    const truncated = s.damage.find((d) => d.code === 'ERR_TRUNCATED')!;
    for (const rel of after) assert.equal(s.skipped.find((k) => k.path.endsWith(rel))!.offset, truncated.offset, rel);
  });

  it('a bad directory header: the directory is reported lost, the rest is restored', async () => {
    const off = firstHeader.get(inoOf.get('b')!)!;
    const { dest, s } = await restoreImage(damaged((b) => { b[off + 40]! ^= 1; }));
    const lost = check(dest, s);
    assert.deepEqual(lost, []);
    assert.ok(!fs.existsSync(path.join(dest, 'b')));
    const k = s.skipped.find((x) => x.path === path.join(dest, 'b'))!;
    assert.equal(k.code, 'LOST');
    assert.equal(k.offset, off);
    assert.match(k.message, /directory/);
    assert.equal(contents.size - 2, listTree(dest).filter((x) => x !== '.snapdump-restore.json').filter((x) => x.startsWith('a/')).length);
  });

  it('a truncated compressed image (Linux dump -z)', async () => {
    const z = fs.readFileSync(SAMPLES + 'level0-z.dump');
    const { dest, s } = await restoreImage(z.subarray(0, z.length - 2000));
    assert.equal(s.exitStatus, 1);
    assert.ok(s.damage.some((d) => d.code === 'ERR_TRUNCATED'));
    assert.equal(fs.readFileSync(path.join(dest, 'dir/a.txt'), 'utf8'), 'hello\n');
    for (const k of s.skipped) assert.ok(!fs.existsSync(k.path), `${k.path} reported lost and absent`);
  });

  it('an interrupted restore removes the file being written and keeps everything before it', async () => {
    const start = firstHeader.get(inoOf.get('a/f05')!)!;
    const controller = new AbortController();
    const stream = (async function* () {
      for (let off = 0; off < image.length; off += 64 * 1024) {
        yield image.subarray(off, off + 64 * 1024);
        // Interrupt in the middle of f05's data.
        if (off > start + 600 * 1024) controller.abort();
      }
    })();
    const dest = path.join(work, 'aborted');
    await assert.rejects(restore({ files: [], inputs: [{ name: 'stream', stream }], dest, force: true, signal: controller.signal, readSize: 64 * 1024 }), { code: 'ERR_ABORTED' });
    assert.ok(!fs.existsSync(path.join(dest, 'a/f05')), 'the file being written is removed');
    for (const [rel, data] of contents) {
      const p = path.join(dest, rel);
      if (fs.existsSync(p)) assert.ok(fs.readFileSync(p).equals(data), rel);
    }
    // The reader runs ahead of the interrupt, so how far the restore got varies; what it kept
    // is exact (checked above) and it did keep something.
    assert.ok([...contents.keys()].some((rel) => fs.existsSync(path.join(dest, rel))), 'files before the interrupt are kept');
    const usec = (p: string) => fs.statSync(p, { bigint: true }).mtimeNs / 1000n;
    assert.equal(usec(path.join(dest, 'a')), usec(path.join(src, 'a')), 'directories still get their attributes');
    assert.deepEqual(listTree(dest).filter((x) => x !== '.snapdump-restore.json').filter((x) => x.includes('.snapdump') && x !== '.snapdump-restore.json'), []);
  });

  it('the CLI exits 1 and names the damage and the lost file on stderr', () => {
    const off = firstHeader.get(inoOf.get('a/f03')!)!;
    const file = path.join(work, 'bad.dump');
    fs.writeFileSync(file, damaged((b) => { b[off + 300]! ^= 4; }));
    const dest = path.join(work, 'cli-bad');
    const r = restoreCli(['-f', file, '-C', dest, '--force']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`damage \\[ERR_CORRUPT\\] at byte ${off}`));
    assert.match(r.stderr, new RegExp(`skipped: ${dest}/a/f03: not restored: .*byte ${off}`));
    assert.equal(fs.readFileSync(path.join(dest, 'a/f04')).equals(contents.get('a/f04')!), true);
  });

  it('input that is not a dump: ERR_NOT_DUMP, exit status 2, nothing written', async () => {
    const notDump = path.join(work, 'not.dump');
    fs.writeFileSync(notDump, 'just some text\n'.repeat(200));
    const dest = path.join(work, 'never');
    await assert.rejects(restore({ files: [notDump], dest }), { code: 'ERR_NOT_DUMP' });
    const r = restoreCli(['-f', notDump, '-C', dest]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /snapdump: error \[ERR_NOT_DUMP\]: .*not a dump image/);
    assert.ok(!fs.existsSync(dest));
  });
});
