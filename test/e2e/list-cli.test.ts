/** `snapdump list` from the command line: restore -t's text for every sample, JSON, errors. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sharedDir, snapdump } from '../helpers/cli.js';
import { haveProgram, removeTree, run, tempDir } from '../helpers/tree.js';

const samples = path.join(sharedDir, 'samples/linux-dump-0.4b47');
const env = { ...process.env, TZ: 'UTC' };

describe('snapdump list', () => {
  for (const name of ['level0', 'level1', 'level0-z', 'level0-j', 'mini-b64', 'mini-4k', 'quirks', 'synthetic-le', 'synthetic-be']) {
    it(`prints exactly what restore -t printed for ${name}.dump`, () => {
      const r = snapdump(['list', '-f', path.join(samples, `${name}.dump`)], { env });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(r.stdout, fs.readFileSync(path.join(samples, `${name}.listing`)));
    });
  }

  it('reads a multi-volume set given as several -f in order', () => {
    const args = ['list'];
    for (let i = 1; i <= 6; i++) args.push('-f', path.join(samples, `mini-mv00${i}`));
    const r = snapdump(args, { env });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout, fs.readFileSync(path.join(samples, 'mini-mv.listing')));
  });

  it('reads standard input and prints JSON lines', () => {
    const r = snapdump(['list', '-f', '-', '--json'], { env, input: fs.readFileSync(path.join(samples, 'level1.dump')) });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.toString().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines[0]!.kind, 'label');
    assert.equal(lines[0]!.level, 1);
    assert.deepEqual(lines.slice(1, 4).map((l) => [l.path, l.ino, l.type]), [['.', 2, 'dir'], ['./bigdir', 12, 'dir'], ['./bigdir/f_added', 20, 'file']]);
  });

  it('refuses a file that is not a dump with ERR_NOT_DUMP and exit status 2', () => {
    const r = snapdump(['list', '-f', path.join(samples, 'generate.sh')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /\[ERR_NOT_DUMP\].*not a dump image/);
  });

  it('lists what is intact in a truncated image, names the damage, exit status 1', () => {
    const dir = tempDir('list');
    try {
      const cut = path.join(dir, 'cut.dump');
      const whole = fs.readFileSync(path.join(samples, 'level0.dump'));
      fs.writeFileSync(cut, whole.subarray(0, 3_000_000));
      const r = snapdump(['list', '-f', cut], { env });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /damage \[ERR_TRUNCATED\] at byte \d+/);
      assert.match(r.stdout.toString(), /\.\/random3m\.bin/);
    } finally {
      removeTree(dir);
    }
  });

  it('lists our own images exactly as the real restore -t does', { skip: !haveProgram('restore') && 'needs Linux restore' }, () => {
    const dir = tempDir('list-own');
    try {
      const src = path.join(dir, 'src');
      fs.mkdirSync(path.join(src, 'a/b'), { recursive: true });
      fs.writeFileSync(path.join(src, 'a/b/file.txt'), 'x');
      fs.writeFileSync(path.join(src, 'name with\nnewline'), 'y');
      fs.symlinkSync('a', path.join(src, 'link'));
      fs.linkSync(path.join(src, 'a/b/file.txt'), path.join(src, 'hard'));
      const img = path.join(dir, 'own.dump');
      assert.equal(snapdump(['backup', src, '-f', img, '-q', '--label', 'own']).status, 0);
      const ours = snapdump(['list', '-f', img], { env });
      const theirs = run('restore', ['-t', '-f', img], { env });
      assert.equal(ours.status, 0, ours.stderr);
      assert.deepEqual(ours.stdout.toString(), theirs.stdout.toString());
    } finally {
      removeTree(dir);
    }
  });
});
