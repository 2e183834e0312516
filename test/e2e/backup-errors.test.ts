/**
 * Bad input to backup: every case gets a coded error or a named skip, never a crash trace,
 * never an image that looks complete but is not.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backup } from '../../src/backup.js';
import { isSnapdumpError } from '../../src/errors.js';
import { haveProgram, isRoot, removeTree, run, tempDir } from '../helpers/tree.js';
import { snapdump } from '../helpers/cli.js';

function errorLine(stderr: string): string {
  return stderr.split('\n').find((l) => l.startsWith('snapdump: error')) ?? '';
}

describe('backup bad input', () => {
  let work: string;
  let src: string;
  before(() => {
    work = tempDir('errors');
    src = path.join(work, 'src');
    fs.mkdirSync(path.join(src, 'd'), { recursive: true });
    fs.writeFileSync(path.join(src, 'a.txt'), 'a\n');
    fs.writeFileSync(path.join(src, 'd', 'b.txt'), 'b\n');
    fs.chmodSync(work, 0o755);
  });
  after(() => removeTree(work));

  const cases: Array<[string, string[], string]> = [
    ['a missing source', ['backup', '/nonexistent/source', '-f', 'OUT'], 'ERR_SOURCE'],
    ['a source that is a file', ['backup', 'SRC/a.txt', '-f', 'OUT'], 'ERR_SOURCE'],
    ['an output directory that does not exist', ['backup', 'SRC', '-f', '/nonexistent/dir/out.dump'], 'ERR_OUTPUT'],
    ['an output that is a directory', ['backup', 'SRC', '-f', 'SRC'], 'ERR_OUTPUT'],
    ['blocking factor 3', ['backup', 'SRC', '-f', 'OUT', '-b', '3'], 'ERR_BLOCKING_FACTOR'],
    ['blocking factor 257', ['backup', 'SRC', '-f', 'OUT', '-b', '257'], 'ERR_BLOCKING_FACTOR'],
    ['a blocking factor that is no number', ['backup', 'SRC', '-f', 'OUT', '-b', 'ten'], 'ERR_USAGE'],
    ['level 32', ['backup', 'SRC', '-f', 'OUT', '-l', '32'], 'ERR_LEVEL'],
    ['level -1', ['backup', 'SRC', '-f', 'OUT', '-l=-1'], 'ERR_LEVEL'],
    ['a label over 15 bytes', ['backup', 'SRC', '-f', 'OUT', '--label', 'x'.repeat(16)], 'ERR_USAGE'],
    ['no -f', ['backup', 'SRC'], 'ERR_USAGE'],
    ['an unknown option', ['backup', 'SRC', '-f', 'OUT', '--bogus'], 'ERR_USAGE'],
    ['an unknown command', ['frobnicate'], 'ERR_USAGE'],
  ];
  for (const [what, args, code] of cases) {
    it(`refuses ${what} with ${code} and exit status 2`, () => {
      const out = path.join(work, `out-${code}.dump`);
      const fixed = args.map((a) => a.replace('SRC', src).replace('OUT', out)).map((a) => (a === '-l=-1' ? '--level=-1' : a));
      const r = snapdump(fixed);
      assert.equal(r.status, 2, r.stderr);
      assert.match(errorLine(r.stderr), new RegExp(`\\[${code}\\]`), r.stderr);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(fs.existsSync(out), false, 'no image written');
      assert.deepEqual(fs.readdirSync(work).filter((n) => n.includes('partial')), []);
    });
  }

  it('reports errors as JSON with --json', () => {
    const r = snapdump(['backup', '/nonexistent/source', '-f', path.join(work, 'x.dump'), '--json']);
    assert.equal(r.status, 2);
    const err = JSON.parse(r.stderr.trim().split('\n').pop()!) as { type: string; code: string };
    assert.equal(err.type, 'error');
    assert.equal(err.code, 'ERR_SOURCE');
  });

  it('leaves the output file out when it lies inside the source', () => {
    const out = path.join(src, 'self.dump');
    const r = snapdump(['backup', src, '-f', out, '-q']);
    try {
      assert.equal(r.status, 0, r.stderr);
      if (haveProgram('restore')) {
        const t = run('restore', ['-t', '-f', out]);
        assert.equal(t.status, 0, t.stderr);
        assert.doesNotMatch(t.stdout.toString(), /self\.dump|partial/);
        assert.match(t.stdout.toString(), /\.\/d\/b\.txt/);
      }
    } finally {
      fs.rmSync(out, { force: true });
    }
  });

  it('flags a file that changes while it is read (exit status 1) and still writes a valid image', async () => {
    const out = path.join(work, 'changing.dump');
    const victim = path.join(src, 'changing.txt');
    fs.writeFileSync(victim, 'before\n');
    try {
      const summary = await backup({
        source: src, output: out,
        // The walk is done and no file has been read yet when the 'directories' phase starts.
        onEvent: (e) => { if (e.type === 'phase' && e.phase === 'directories') fs.appendFileSync(victim, 'after\n'); },
      });
      assert.equal(summary.exitStatus, 1);
      assert.deepEqual(summary.skipped.map((s) => [s.code, path.basename(s.path)]), [['CHANGED', 'changing.txt']]);
      if (haveProgram('restore')) assert.equal(run('restore', ['-t', '-f', out]).status, 0);
    } finally {
      fs.rmSync(victim, { force: true });
      fs.rmSync(out, { force: true });
    }
  });

  it('a large file that shrinks before its data is copied is flagged and padded, the image stays valid', async () => {
    const out = path.join(work, 'shrinking.dump');
    const victim = path.join(src, 'shrinking.bin');
    fs.writeFileSync(victim, Buffer.alloc(6 << 20, 7));
    try {
      const summary = await backup({
        source: src, output: out,
        onEvent: (e) => { if (e.type === 'phase' && e.phase === 'directories') fs.truncateSync(victim, 1 << 20); },
      });
      assert.equal(summary.exitStatus, 1);
      assert.ok(summary.skipped.some((s) => s.code === 'CHANGED' && s.path.endsWith('shrinking.bin')), JSON.stringify(summary.skipped));
      if (haveProgram('restore')) {
        const t = run('restore', ['-t', '-f', out]);
        assert.equal(t.status, 0, t.stderr);
        assert.match(t.stdout.toString(), /shrinking\.bin/);
      }
    } finally {
      fs.rmSync(victim, { force: true });
      fs.rmSync(out, { force: true });
    }
  });

  it('aborting removes the partial image', async () => {
    const out = path.join(work, 'aborted.dump');
    const controller = new AbortController();
    await assert.rejects(
      backup({ source: src, output: out, signal: controller.signal, onEvent: (e) => { if (e.type === 'phase' && e.phase === 'directories') controller.abort(); } }),
      (e: unknown) => isSnapdumpError(e) && e.code === 'ERR_ABORTED',
    );
    assert.equal(fs.existsSync(out), false);
    assert.deepEqual(fs.readdirSync(work).filter((n) => n.includes('partial')), []);
  });

  it('writes to standard output with -f -', () => {
    const r = snapdump(['backup', src, '-f', '-', '-q']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.length % 10240, 0);
    assert.equal(r.stdout.readInt32LE(24), 60012, 'starts with a dump header');
    if (haveProgram('restore')) {
      const t = run('restore', ['-t', '-f', '-'], { input: r.stdout });
      assert.equal(t.status, 0, t.stderr);
      assert.match(t.stdout.toString(), /\.\/d\/b\.txt/);
    }
  });

  it('warns about times and names the format cannot hold, exit status 0', () => {
    const odd = path.join(work, 'odd');
    fs.mkdirSync(odd, { recursive: true });
    fs.writeFileSync(path.join(odd, 'y1960.txt'), 'past\n');
    run('touch', ['-d', '1960-01-01 00:00:00 UTC', path.join(odd, 'y1960.txt')]);
    fs.writeFileSync(path.join(odd, 'q'.repeat(255)), 'long name\n');
    const r = snapdump(['backup', odd, '-f', path.join(work, 'odd.dump')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /warning: .*y1960\.txt: mtime before 1970 cannot be stored/);
    assert.match(r.stderr, /warning: .*q{255}: a 255-byte name/);
  });

  it('skips a file it may not read, names it, exits 1, and the image is still valid', { skip: (!isRoot || !haveProgram('setpriv')) && 'needs root to switch to an unprivileged user' }, () => {
    const tree = path.join(work, 'perm');
    fs.mkdirSync(path.join(tree, 'closed'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'open.txt'), 'open\n');
    fs.writeFileSync(path.join(tree, 'secret.txt'), 'secret\n');
    fs.chmodSync(path.join(tree, 'secret.txt'), 0o600);
    fs.writeFileSync(path.join(tree, 'closed', 'inside.txt'), 'x\n');
    fs.chmodSync(path.join(tree, 'closed'), 0o700);
    const outDir = path.join(work, 'perm-out');
    fs.mkdirSync(outDir);
    fs.chmodSync(outDir, 0o777);
    const out = path.join(outDir, 'perm.dump');
    const r = run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, path.resolve('bin/snapdump'), 'backup', tree, '-f', out]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /skipped: .*secret\.txt: cannot read/);
    assert.match(r.stderr, /skipped: .*closed: cannot read directory/);
    if (haveProgram('restore')) {
      const t = run('restore', ['-t', '-f', out]);
      assert.equal(t.status, 0, t.stderr);
      assert.match(t.stdout.toString(), /\.\/open\.txt/);
      assert.doesNotMatch(t.stdout.toString(), /secret\.txt/);
    }
  });
});
