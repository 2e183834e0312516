/**
 * `snapdump verify`: no difference against a faithful tree, each kind of difference found, and
 * read-only by construction.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { verify, type DifferenceKind } from '../../src/verify/index.js';
import * as sysx from '../../src/native/sysx.js';
import { buildFullTree, haveProgram, isRoot, removeTree, run, tempDir } from '../helpers/tree.js';
import { repoRoot, snapdump } from '../helpers/cli.js';

const canRun = isRoot && haveProgram('restore');

describe('snapdump verify', { skip: !canRun && 'needs root and Linux restore' }, () => {
  let work: string;
  let src: string;
  let image: string;
  let copyNo = 0;

  /** A faithful copy of the source made by the real restore -r from the image. */
  function faithfulCopy(): string {
    const dest = path.join(work, `copy${++copyNo}`);
    fs.mkdirSync(dest);
    const r = run('restore', ['-r', '-y', '-T', work, '-f', image], { cwd: dest });
    assert.equal(r.status, 0, r.stderr);
    fs.rmSync(path.join(dest, 'restoresymtable'));
    // restore -r leaves the root alone; give it the source root's exact times.
    const st = fs.statSync(src, { bigint: true });
    sysx.lutimesNs(dest, Number(st.atimeNs / 1_000_000_000n), Number(st.atimeNs % 1_000_000_000n), Number(st.mtimeNs / 1_000_000_000n), Number(st.mtimeNs % 1_000_000_000n));
    return dest;
  }

  before(() => {
    work = tempDir('verify');
    src = path.join(work, 'src');
    image = path.join(work, 'img.dump');
    buildFullTree(src);
    const r = snapdump(['backup', src, '-f', image, '-q']);
    assert.equal(r.status, 0, r.stderr);
  });
  after(() => removeTree(work));

  it('finds no difference against the source and exits 0', () => {
    const r = snapdump(['verify', '-f', image, '-C', src]);
    assert.equal(r.stdout.toString(), '');
    assert.equal(r.status, 0, r.stderr);
  });

  it('finds no difference against a tree rebuilt by the real restore (its times to the microsecond)', async () => {
    const s = await verify({ files: [image], dir: faithfulCopy(), microseconds: true });
    assert.deepEqual(s.differences, []);
    assert.equal(s.exitStatus, 0);
  });

  it('lists each kind of difference', async () => {
    const d = faithfulCopy();
    const p = (rel: string) => path.join(d, rel);
    fs.rmSync(p('odd5000.bin'));                                   // missing
    fs.writeFileSync(p('sub/new-file'), 'extra\n');                // extra
    const c = Buffer.from(fs.readFileSync(p('exact3k.bin'))); c[2000]! ^= 1;
    const t = fs.statSync(p('exact3k.bin'), { bigint: true });
    fs.writeFileSync(p('exact3k.bin'), c); // content, same size and (exact) time
    sysx.lutimesNs(p('exact3k.bin'), Number(t.atimeNs / 1_000_000_000n), Number(t.atimeNs % 1_000_000_000n), Number(t.mtimeNs / 1_000_000_000n), Number(t.mtimeNs % 1_000_000_000n));
    fs.rmSync(p('empty')); fs.mkdirSync(p('empty'));                // type
    fs.chmodSync(p('modes-2640'), 0o640);                          // mode
    fs.chownSync(p('small.txt'), 4242, 4343);                      // owner (all three names of the inode)
    fs.utimesSync(p('times.txt'), 1, 1);                           // times
    fs.rmSync(p('link_short')); fs.symlinkSync('elsewhere', p('link_short')); // target
    fs.rmSync(p('specials/chr_null')); sysx.mknod(p('specials/chr_null'), 0o020666, sysx.makedev(1, 5)); // rdev
    fs.rmSync(p('sub/hardlink_b')); fs.copyFileSync(p('small.txt'), p('sub/hardlink_b')); // links
    sysx.setXattr(p('xattr_many.txt'), 'user.attr3', Buffer.from('changed'));  // xattrs
    run('setfacl', ['-m', 'u:1001:r--', p('acl.txt')]);          // ACL (an xattr)
    fs.writeFileSync(p('sparse.bin'), 'x', { flag: 'r+' });        // content at offset 0 in a sparse file
    const s = await verify({ files: [image], dir: d, microseconds: true });
    const kinds = (rel: string) => s.differences.filter((x) => x.path === `./${rel}`).map((x) => x.kind).sort();
    const expect: Array<[string, DifferenceKind]> = [
      ['odd5000.bin', 'missing'], ['sub/new-file', 'extra'], ['exact3k.bin', 'content'], ['empty', 'type'],
      ['modes-2640', 'mode'], ['small.txt', 'owner'], ['hardlink_a', 'owner'], ['times.txt', 'times'],
      ['link_short', 'target'], ['specials/chr_null', 'rdev'], ['sub/hardlink_b', 'links'],
      ['xattr_many.txt', 'xattrs'], ['acl.txt', 'xattrs'], ['sparse.bin', 'content'],
    ];
    for (const [rel, kind] of expect) assert.ok(kinds(rel).includes(kind), `${kind} of ${rel}: got ${JSON.stringify(kinds(rel))}\n${JSON.stringify(s.differences, null, 1)}`);
    assert.deepEqual(s.differences.filter((x) => x.path === './exact3k.bin').map((x) => x.detail), ['contents differ from byte 2000']);
    assert.equal(s.exitStatus, 1);
    const cli = snapdump(['verify', '-f', image, '-C', d, '--json']);
    assert.equal(cli.status, 1);
    assert.ok(cli.events().some((e) => e.type === 'difference' && e.kind === 'rdev'));
  });

  it('works on a read-only mount (it never writes)', () => {
    const d = faithfulCopy();
    const ro = path.join(work, 'ro');
    fs.mkdirSync(ro);
    assert.equal(run('mount', ['--bind', d, ro]).status, 0);
    try {
      assert.equal(run('mount', ['-o', 'remount,bind,ro', ro]).status, 0);
      const r = snapdump(['verify', '-f', image, '-C', ro, '--microseconds']);
      assert.equal(r.status, 0, r.stdout.toString() + r.stderr);
    } finally {
      run('umount', [ro]);
    }
  });

  it('its code reaches the tree only through read-only-fs, which only reads', () => {
    const dir = path.join(repoRoot, 'src/verify');
    for (const name of fs.readdirSync(dir)) {
      const text = fs.readFileSync(path.join(dir, name), 'utf8');
      if (name === 'read-only-fs.ts') {
        assert.doesNotMatch(text, /\b(write\w*|append\w*|mkdir\w*|rm\w*|unlink\w*|rename\w*|chmod\w*|chown\w*|lchown\w*|utimes\w*|truncate\w*|copyFile\w*|symlink\w*|link\w*Sync|setXattr|removeXattr|setFlags|mknod|lutimesNs|copyFileRange)\s*\(/);
        assert.doesNotMatch(text, /O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND|'[wa]\+?'/);
      } else {
        assert.doesNotMatch(text, /from 'node:fs'|from 'fs'|native\/sysx\.js'/, `${name} must not touch the file system directly`);
      }
    }
  });

  it('refuses a missing directory and a non-dump image with coded errors', () => {
    assert.match(snapdump(['verify', '-f', image, '-C', path.join(work, 'nope')]).stderr, /\[ERR_SOURCE\]/);
    const r = snapdump(['verify', '-f', path.join(src, 'small.txt'), '-C', src]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /\[ERR_NOT_DUMP\]/);
  });
});
