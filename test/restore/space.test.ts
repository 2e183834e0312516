/**
 * The space check: a restore into a file system without room for the data plus 100 MiB is
 * refused before anything is written; with --force it restores what fits, stops cleanly when
 * space or inodes run out, leaves no partial file, and names exactly what was not restored.
 * For input whose size is not known beforehand, the margin is kept as files arrive.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backup } from '../../src/backup.js';
import { restore, type RestoreSummary } from '../../src/restore/index.js';
import { haveProgram, isRoot, pseudoRandom, run, tempDir } from '../helpers/tree.js';
import { listTree, memInput, removeRestored, restoreCli } from '../helpers/image-builder.js';

const canMount = isRoot && haveProgram('mke2fs') && haveProgram('losetup');

describe('the destination space check', { skip: !canMount && 'needs root, mke2fs, losetup and mount' }, () => {
  let work: string;
  const mounts: Array<{ dir: string; dev: string }> = [];
  let image: string;
  let many: string;
  const contents = new Map<string, Buffer>();

  /** An ext4 file system of `size` mounted at work/NAME (unmounted and detached in after()). */
  function mountFs(name: string, size: string, extra: string[] = []): string {
    const img = path.join(work, `${name}.img`);
    const dir = path.join(work, name);
    fs.mkdirSync(dir);
    const mk = run('mke2fs', ['-q', '-t', 'ext4', ...extra, img, size]);
    assert.equal(mk.status, 0, mk.stderr);
    const loop = run('losetup', ['-f', '--show', img]);
    assert.equal(loop.status, 0, loop.stderr);
    const dev = loop.stdout.toString().trim();
    const m = run('mount', ['-t', 'ext4', dev, dir]);
    if (m.status !== 0) {
      run('losetup', ['-d', dev]);
      assert.fail(m.stderr);
    }
    mounts.push({ dir, dev });
    return dir;
  }

  before(async () => {
    work = tempDir('restore-space');
    const src = path.join(work, 'src');
    fs.mkdirSync(path.join(src, 'd'), { recursive: true });
    for (let i = 0; i < 24; i++) {
      const rel = `d/f${String(i).padStart(2, '0')}`;
      const data = pseudoRandom(1024 * 1024 + i * 1000, i + 7);
      fs.writeFileSync(path.join(src, rel), data);
      contents.set(rel, data);
    }
    image = path.join(work, 'big.dump');
    await backup({ source: src, output: image, threads: 2 });
    const small = path.join(work, 'many-src');
    fs.mkdirSync(small);
    for (let i = 0; i < 300; i++) fs.writeFileSync(path.join(small, `e${i}`), '');
    many = path.join(work, 'many.dump');
    await backup({ source: small, output: many, threads: 1 });
  });

  after(() => {
    for (const m of mounts) {
      run('umount', [m.dir]);
      run('losetup', ['-d', m.dev]);
    }
    removeRestored(work);
  });

  /** Every file is restored exactly or reported not restored (never both, never half). */
  function accounted(dest: string, s: RestoreSummary, code: string): { restored: number; missing: number } {
    let restored = 0;
    let missing = 0;
    for (const [rel, data] of contents) {
      const p = path.join(dest, rel);
      const k = s.skipped.find((x) => x.path === p);
      if (fs.existsSync(p)) {
        assert.ok(fs.readFileSync(p).equals(data), `${rel} restored exactly`);
        assert.equal(k, undefined);
        restored++;
      } else {
        assert.equal(k?.code, code, `${rel} is reported`);
        missing++;
      }
    }
    assert.deepEqual(listTree(dest).filter((x) => x.includes('.snapdump')), []);
    return { restored, missing };
  }

  it('refuses a restore that does not fit (data + 100 MiB), writing nothing', async () => {
    const mnt = mountFs('tiny', '8M');
    const dest = path.join(mnt, 'dest');
    await assert.rejects(restore({ files: [image], dest }), (e: { code: string; message: string; details: Record<string, unknown> }) => {
      assert.equal(e.code, 'ERR_OUTPUT');
      assert.match(e.message, /not enough room .* MiB free, .* MiB needed .*nothing was written/);
      assert.equal(e.details.reason, 'NO_SPACE');
      assert.ok((e.details.needBytes as number) > 24 * 1024 * 1024 + 100 * 1024 * 1024);
      return true;
    });
    const r = restoreCli(['-f', image, '-C', dest]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /error \[ERR_OUTPUT\]: not enough room/);
    assert.deepEqual(fs.readdirSync(mnt), ['lost+found'], 'not even DEST was made');
    // --dry-run says so without failing.
    const dry = await restore({ files: [image], dest, dryRun: true });
    assert.ok(dry.space && !dry.space.ok);
    // Not enough room for twice the image: the headers were read to add up the exact data.
    assert.equal(dry.space.dataBound, false);
    const data = [...contents.values()].reduce((n, b) => n + b.length, 0);
    assert.ok(dry.space.dataBytes! >= data && dry.space.dataBytes! < data + 24 * 4096, `${dry.space.dataBytes} for ${data}`);
    assert.deepEqual(dry.skipped.map((w) => w.code), ['NO_SPACE']);
    assert.equal(dry.exitStatus, 1);
  });

  it('with --force, restores what fits and stops cleanly when the space runs out', async () => {
    const mnt = mountFs('full', '12M');
    const dest = path.join(mnt, 'dest');
    const s = await restore({ files: [image], dest, force: true });
    assert.equal(s.exitStatus, 1);
    assert.equal(s.stopped?.code, 'NO_SPACE');
    assert.equal(s.space, null, 'no check with --force');
    const { restored, missing } = accounted(dest, s, 'NO_SPACE');
    assert.ok(restored >= 3 && missing >= 5, `restored ${restored}, missing ${missing}`);
    assert.equal(s.files, restored);
    // The CLI says the same and exits 1.
    fs.rmSync(dest, { recursive: true });
    const r = restoreCli(['-f', image, '-C', dest, '--force']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /stopped early: the destination ran out of space/);
    // Which file hits the wall depends on when ext4 returns the space freed above.
    assert.match(r.stderr, /skipped: .*\/d\/f\d\d: not restored: the restore stopped/);
  });

  it('with --force, stops cleanly when the inodes run out', async () => {
    const mnt = mountFs('few-inodes', '8M', ['-N', '64']);
    const dest = path.join(mnt, 'dest');
    const s = await restore({ files: [many], dest, force: true });
    assert.equal(s.stopped?.code, 'NO_SPACE');
    const made = fs.readdirSync(dest).length;
    assert.ok(made > 10 && made < 300, `${made} made`);
    assert.equal(s.skipped.length, 300 - made);
    assert.ok(s.skipped.every((k) => k.code === 'NO_SPACE'));
  });

  it('keeps the 100 MiB margin as files arrive when the data size is not known beforehand', async () => {
    const mnt = mountFs('margin', '140M');
    const dest = path.join(mnt, 'dest');
    const free = fs.statfsSync(mnt);
    const room = free.bavail * free.bsize - 100 * 1024 * 1024;
    assert.ok(room > 4 * 1024 * 1024 && room < 24 * 1024 * 1024, `room before the margin: ${room}`);
    // A streamed image: no size is known before the file phase.
    const s = await restore({ files: [], inputs: [memInput(fs.readFileSync(image))], dest });
    assert.equal(s.space?.dataBytes, null);
    assert.equal(s.stopped?.code, 'NO_SPACE');
    assert.match(s.stopped!.message, /100 MiB/);
    const { restored } = accounted(dest, s, 'NO_SPACE');
    assert.ok(restored >= 2, `${restored} restored`);
    const after = fs.statfsSync(mnt);
    assert.ok(after.bavail * after.bsize >= 100 * 1024 * 1024, 'the margin is left free');
  });
});
