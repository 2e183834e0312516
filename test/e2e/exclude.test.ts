/**
 * backup --exclude: excluded names and paths are left out as if they did not exist (no listing,
 * no map), so a chain 0,1 with exclusions restores correctly with snapdump and with the real
 * Linux restore -r (Linux dump's -e left excluded directories half in the image and broke it).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backup } from '../../src/backup.js';
import { restore } from '../../src/restore/index.js';
import { STATE_FILE } from '../../src/restore/chain.js';
import { snapdump } from '../helpers/cli.js';
import { compareTrees, haveProgram, isRoot, removeTree, run, snapshotTree, tempDir } from '../helpers/tree.js';

const nextSecond = () => new Promise((r) => setTimeout(r, 1100));
const EXCLUDE = ['cache', '*.tmp', 'logs/old', 'big*'];

/** What the image must hold: everything but the excluded names and paths (and what is below them). */
function isExcluded(rel: string): boolean {
  const parts = rel.split('/');
  if (parts.some((n) => n === 'cache' || n.endsWith('.tmp') || n.startsWith('big'))) return true;
  return rel === 'logs/old' || rel.startsWith('logs/old/');
}

describe('backup --exclude', () => {
  let work: string;
  let src: string;
  let state: string;
  const images: string[] = [];
  const p = (rel: string) => path.join(src, rel);
  const write = (rel: string, text: string) => { fs.mkdirSync(path.dirname(p(rel)), { recursive: true }); fs.writeFileSync(p(rel), text); };

  before(async () => {
    work = tempDir('exclude');
    src = path.join(work, 'src');
    state = path.join(work, 'state');
    write('keep/a.txt', 'a\n');
    write('keep/b.txt', 'b\n');
    write('cache/c1', 'cached\n');
    write('cache/sub/c2', 'cached too\n');
    write('x.tmp', 'temporary\n');
    write('deep/dir/cache/c3', 'deep cache\n');
    write('deep/dir/file', 'deep file\n');
    write('logs/old/l1', 'old log\n');
    write('logs/new/l2', 'new log\n');
    write('bigdata/huge', 'pretend\n');
    write('hl', 'hard link\n');
    fs.linkSync(p('hl'), p('hl.tmp')); // one name excluded, the other kept
    fs.linkSync(p('hl'), p('keep/hl2'));
    const s = await backup({ source: src, output: path.join(work, 'l0.dump'), level: 0, stateDir: state, name: 'x', exclude: EXCLUDE });
    assert.equal(s.exitStatus, 0, JSON.stringify(s.skipped));
    assert.equal(s.excluded, 6, 'cache, x.tmp, deep/dir/cache, logs/old, bigdata, hl.tmp (nothing below them counts)');
    images.push(path.join(work, 'l0.dump'));
    await nextSecond();
    // Changes inside and outside the excluded parts.
    write('cache/c1', 'cached, changed\n');
    write('cache/new', 'new in cache\n');
    fs.rmSync(p('cache/sub'), { recursive: true });
    write('keep/a.txt', 'a changed\n');
    fs.renameSync(p('keep/b.txt'), p('keep/c.txt'));
    write('new.tmp', 'new temporary\n');
    write('deep/dir/cache/c4', 'more deep cache\n');
    fs.rmSync(p('deep/dir/file'));
    write('logs/old/l3', 'older log\n');
    write('logs/new/l4', 'newer log\n');
    fs.rmSync(p('bigdata'), { recursive: true });
    write('bigger', 'a file now\n');
    const s1 = await backup({ source: src, output: path.join(work, 'l1.dump'), level: 1, stateDir: state, name: 'x', exclude: EXCLUDE });
    assert.equal(s1.exitStatus, 0, JSON.stringify(s1.skipped));
    assert.ok(s1.base, 'an incremental');
    images.push(path.join(work, 'l1.dump'));
  });
  after(() => removeTree(work));

  it('the images never name an excluded entry', () => {
    for (const img of images) {
      const l = snapdump(['list', '-f', img, '--json']);
      assert.equal(l.status, 0, l.stderr);
      const paths = l.events().filter((e) => e.kind === 'entry').map((e) => String(e.path).replace(/^\.\/?/, ''));
      assert.deepEqual(paths.filter((x) => x && isExcluded(x)), [], img);
      assert.ok(paths.includes('keep/hl2') && paths.includes('hl'), 'the other names of a hard link stay');
    }
  });

  it('snapdump restores the chain 0,1 to the source without the excluded entries', async () => {
    const dest = path.join(work, 'snap');
    for (const img of images) {
      const r = await restore({ files: [img], dest });
      assert.equal(r.exitStatus, 0, `${img}: ${JSON.stringify([...r.skipped, ...r.warnings])}`);
    }
    const want = snapshotTree(src, { ignore: isExcluded });
    const got = snapshotTree(dest, { ignore: (rel) => rel === STATE_FILE });
    assert.deepEqual(compareTrees(want, got, { directoryTimes: false }), []);
  });

  it('the real restore -r applies the chain 0,1 the same way', { skip: !(isRoot && haveProgram('restore')) && 'needs root and Linux restore' }, () => {
    const dest = path.join(work, 'linux');
    fs.mkdirSync(dest);
    for (const img of images) {
      const r = run('restore', ['-r', '-y', '-T', work, '-f', img], { cwd: dest });
      assert.equal(r.status, 0, `${img}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /expected next file|not found on tape|cannot find/i, r.stderr);
    }
    fs.rmSync(path.join(dest, 'restoresymtable'));
    const want = snapshotTree(src, { ignore: isExcluded });
    assert.deepEqual(compareTrees(want, snapshotTree(dest), { directoryTimes: false, mtimeResolutionNs: 1000n }), []);
  });

  it('restore -C finds no difference between the level 0 image and the source', { skip: !(isRoot && haveProgram('restore')) && 'needs root and Linux restore' }, () => {
    // The level 1 image against today's tree: restore -C checks what the image holds.
    const c = run('restore', ['-C', '-f', images[1]!, '-D', src]);
    assert.equal(c.status, 0, `${c.stdout}\n${c.stderr}`);
  });

  it('a pattern that breaks the rules is a coded error before any output', () => {
    const out = path.join(work, 'bad.dump');
    for (const [args, reason] of [[['--exclude', 'a*b'], /\*/], [['--exclude', 'a,,b'], /empty/], [['--exclude', Array.from({ length: 33 }, (_, i) => `n${i}`).join(',')], /at most 32/]] as const) {
      const r = snapdump(['backup', src, '-f', out, '--no-update', ...args]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /\[ERR_EXCLUDE\]/);
      assert.match(r.stderr, reason);
      assert.equal(fs.existsSync(out), false);
    }
    const json = snapdump(['backup', src, '-f', out, '--no-update', '--json', '--exclude', 'x*y']);
    const err = JSON.parse(json.stderr.trim().split('\n')[0]!) as Record<string, unknown>;
    assert.equal(err.code, 'ERR_EXCLUDE');
    assert.equal(err.reason, 'WILDCARD_POSITION');
  });

  it('the CLI takes ONTAP lists: --exclude "cache,*.tmp" --exclude logs/old', () => {
    const out = path.join(work, 'cli.dump');
    const r = snapdump(['backup', src, '-f', out, '--no-update', '--json', '--exclude', 'cache,*.tmp', '--exclude', 'logs/old', '--exclude', 'big*']);
    assert.equal(r.status, 0, r.stderr);
    const summary = r.events().find((e) => e.type === 'summary')!;
    assert.equal(summary.excluded, 7, 'cache, x.tmp, new.tmp, deep/dir/cache, logs/old, bigger, hl.tmp');
    const l = snapdump(['list', '-f', out, '--json']);
    const paths = l.events().filter((e) => e.kind === 'entry').map((e) => String(e.path).replace(/^\.\/?/, ''));
    assert.deepEqual(paths.filter((x) => x && isExcluded(x)), []);
    assert.ok(paths.includes('logs/new/l4'));
  });
});
