/**
 * `snapdump restore` on the command line: operands, exit statuses, --json events, --dry-run
 * output, standard input and multi-volume sets, usage errors.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/tree.js';
import { listTree, removeRestored, restoreCli } from '../helpers/image-builder.js';

const SAMPLES = fileURLToPath(new URL('../../../../shared/samples/linux-dump-0.4b47/', import.meta.url));
const LEVEL0 = SAMPLES + 'level0.dump';
const MV = ['001', '002', '003', '004', '005', '006'].map((v) => `${SAMPLES}mini-mv${v}`);

let work: string;
before(() => { work = tempDir('restore-cli'); });
after(() => removeRestored(work));

describe('snapdump restore (CLI)', () => {
  it('restores with --json: phase, progress and summary events, exit status 0', () => {
    const dest = path.join(work, 'json');
    const r = restoreCli(['-f', LEVEL0, '-C', dest, '--json', '--force']);
    assert.equal(r.status, 0, r.stderr);
    const events = r.events();
    assert.deepEqual(events.filter((e) => e.type === 'phase').map((e) => e.phase), ['catalog', 'create', 'extract', 'finish']);
    assert.ok(events.some((e) => e.type === 'progress'));
    const summary = events.at(-1)!;
    assert.equal(summary.type, 'summary');
    assert.equal(summary.exitStatus, 0);
    assert.equal(summary.files, 2031 - 2);
    assert.equal(summary.skipped, 0);
    assert.equal(fs.readFileSync(path.join(dest, 'small.txt'), 'utf8'), 'hello world\n');
  });

  it('restores named paths and NEW=OLD renames given as operands', () => {
    const dest = path.join(work, 'ops');
    const r = restoreCli(['-f', LEVEL0, '-C', dest, '--force', '--quiet', './sub/deeper', 'x\\=y=small.txt']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.deepEqual(listTree(dest).filter((x) => x !== '.snapdump-restore.json'), ['sub', 'sub/deeper', 'sub/deeper/nested.txt', 'x=y']);
  });

  it('--dry-run prints what would be written, writes nothing', () => {
    const dest = path.join(work, 'dry');
    const r = restoreCli(['-f', LEVEL0, '-C', dest, '--dry-run', '--force', 'sub']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n').map((l) => l.replace(/ +/g, ' ')), [
      `create dir ${dest}/sub`, `create dir ${dest}/sub/deeper`,
      `create file ${dest}/sub/hardlink_b`, `create file ${dest}/sub/deeper/nested.txt`, `create file ${dest}/sub/moveme.txt`,
    ]);
    assert.match(r.stderr, /dry run: would restore 3 files .*nothing was written/);
    assert.ok(!fs.existsSync(dest));
  });

  it('reads standard input and multi-volume sets', () => {
    const a = path.join(work, 'stdin');
    const r = restoreCli(['-f', '-', '-C', a, '--quiet'], { input: fs.readFileSync(SAMPLES + 'level0-j.dump') });
    assert.equal(r.status, 0, r.stderr);
    const b = path.join(work, 'mv');
    const m = restoreCli([...MV.flatMap((f) => ['-f', f]), '-C', b, '--quiet', '--force']);
    assert.equal(m.status, 0, m.stderr);
    for (const d of [a, b]) assert.deepEqual(listTree(d).filter((x) => x !== '.snapdump-restore.json'), ['dir', 'dir/a.txt', 'dir/five-k.txt', 'dir/odd.bin', 'link', 'lost+found', 'text.txt']);
    // Volumes out of order: refused before anything is written.
    const c = path.join(work, 'mv-bad');
    const bad = restoreCli(['-f', MV[0]!, '-f', MV[2]!, '-C', c]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /error \[ERR_CORRUPT\]: .*volume 3, expected volume 2/);
    assert.ok(!fs.existsSync(c));
  });

  it('exits 1 naming what was not found', () => {
    const dest = path.join(work, 'nf');
    const r = restoreCli(['-f', LEVEL0, '-C', dest, '--force', 'small.txt', 'no/such']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /snapdump: skipped: no\/such: not found in the image/);
    assert.match(r.stderr, /1 entries were not restored/);
  });

  it('usage errors exit 2 with ERR_USAGE', () => {
    for (const args of [['-C', path.join(work, 'u')], ['-f', LEVEL0], ['-f', LEVEL0, '-C', path.join(work, 'u'), '--bogus'], ['-f', LEVEL0, '-C', path.join(work, 'u'), '=x']]) {
      const r = restoreCli(args);
      assert.equal(r.status, 2, args.join(' '));
      assert.match(r.stderr, /error \[ERR_USAGE\]/);
    }
    const file = path.join(work, 'a-file');
    fs.writeFileSync(file, '');
    const r = restoreCli(['-f', LEVEL0, '-C', file, '--json']);
    assert.equal(r.status, 2);
    assert.equal(JSON.parse(r.stderr.trim()).code, 'ERR_OUTPUT');
  });
});
