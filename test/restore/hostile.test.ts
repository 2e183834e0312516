/**
 * Hostile images never make the restore write outside DEST: names with '/', '..', empty names,
 * '.' entries pointing elsewhere, directory cycles, symlinks planted by the image (or already in
 * DEST) and then used as a path component, hard links to files outside DEST.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { restore, type RestoreSummary } from '../../src/restore/index.js';
import { buildImage, dir, file, listTree, memInput, removeRestored, symlink, type ImgObject } from '../helpers/image-builder.js';
import { tempDir } from '../helpers/tree.js';

let work: string;
let outside: string;
let n = 0;

before(() => {
  work = tempDir('restore-hostile');
  outside = path.join(work, 'outside');
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'victim'), 'original\n');
});
after(() => removeRestored(work));

function outsideUntouched(): void {
  assert.deepEqual(listTree(outside), ['victim'], 'nothing was created outside DEST');
  assert.equal(fs.readFileSync(path.join(outside, 'victim'), 'utf8'), 'original\n', 'the file outside DEST is unchanged');
  assert.deepEqual(fs.readdirSync(work).sort(), fs.readdirSync(work).filter((x) => x === 'outside' || x.startsWith('dest')).sort(), 'nothing next to DEST either');
}

async function run(objects: ImgObject[], setup?: (dest: string) => void, extra: { paths?: string[]; renames?: Array<{ from: string; to: string }> } = {}): Promise<{ dest: string; s: RestoreSummary }> {
  const dest = path.join(work, `dest${++n}`);
  fs.mkdirSync(dest);
  setup?.(dest);
  const s = await restore({ files: [], inputs: [memInput(buildImage(objects))], dest, force: true, ...extra });
  outsideUntouched();
  return { dest, s };
}

const codes = (s: RestoreSummary) => s.skipped.map((k) => k.code).sort();

describe('restore of hostile images', () => {
  it('refuses names containing "/", "..", "." and empty names, with everything below them', async () => {
    const { dest, s } = await run([
      dir(2, 2, [
        { ino: 3, name: '../outside/pwned', type: 8 },
        { ino: 3, name: '/abs', type: 8 },
        { ino: 4, name: '..', type: 4 },
        { ino: 3, name: '.', type: 8 },
        { ino: 3, name: '', type: 8 },
        { ino: 3, name: 'ok.txt', type: 8 },
        { ino: 5, name: 'sub/dir', type: 4 },
      ]),
      dir(4, 2, [{ ino: 3, name: 'under-dotdot', type: 8 }]),
      dir(5, 2, [{ ino: 3, name: 'under-slash', type: 8 }]),
      file(3, 'payload\n'),
    ]);
    assert.deepEqual(listTree(dest).filter((x) => x !== '.snapdump-restore.json'), ['ok.txt']);
    assert.equal(fs.readFileSync(path.join(dest, 'ok.txt'), 'utf8'), 'payload\n');
    assert.deepEqual(codes(s), ['BAD_NAME', 'BAD_NAME', 'BAD_NAME', 'BAD_NAME', 'BAD_NAME', 'BAD_NAME']);
    assert.equal(s.exitStatus, 1);
    assert.ok(s.skipped.some((k) => k.path === './../outside/pwned' && /contains "\/"/.test(k.message)));
  });

  it('starts at the root\'s "." and survives "." / ".." entries that point elsewhere and directory cycles', async () => {
    const { dest, s } = await run([
      // The root's "." names directory 3: the tree is restored from there, as restore does.
      dir(2, 2, [{ ino: 4, name: 'not-reached', type: 4 }], { entries: [{ ino: 3, name: '.', type: 4 }, { ino: 2, name: '..', type: 4 }, { ino: 4, name: 'not-reached', type: 4 }] }),
      // Directory 3: its own "." points to 4, ".." to 2; an entry loops back to itself and one to the root.
      { ino: 3, mode: 0o40755, entries: [{ ino: 4, name: '.', type: 4 }, { ino: 2, name: '..', type: 4 }, { ino: 3, name: 'self', type: 4 }, { ino: 2, name: 'root', type: 4 }, { ino: 4, name: 'four', type: 4 }, { ino: 10, name: 'f', type: 8 }] },
      dir(4, 3, [{ ino: 3, name: 'back', type: 4 }, { ino: 4, name: 'again', type: 4 }, { ino: 10, name: 'g', type: 8 }]),
      file(10, 'data\n'),
    ]);
    // "four" is met (and taken) before "root" is descended, so root/not-reached is a second name.
    assert.deepEqual(listTree(dest).filter((x) => x !== '.snapdump-restore.json'), ['f', 'four', 'four/g', 'root']);
    assert.ok(fs.statSync(path.join(dest, 'four/g')).ino === fs.statSync(path.join(dest, 'f')).ino, 'hard link');
    assert.ok(codes(s).every((c) => c === 'DIR_LINK'));
    assert.deepEqual(s.skipped.map((k) => k.path).sort(), ['./four/again', './four/back', './root/not-reached', './self']);
  });

  it('a name that is a symlink to an absolute path and also a directory: the file goes into the real directory', async () => {
    for (const symlinkFirst of [true, false]) {
      const entries = [{ ino: 10, name: 'a', type: 10 }, { ino: 3, name: 'a', type: 4 }];
      const { dest, s } = await run([
        dir(2, 2, symlinkFirst ? entries : entries.reverse()),
        dir(3, 2, [{ ino: 11, name: 'x', type: 8 }, { ino: 12, name: 'victim', type: 8 }]),
        symlink(10, outside),
        file(11, 'through the link?\n'),
        file(12, 'overwritten?\n'),
      ]);
      assert.ok(fs.lstatSync(path.join(dest, 'a')).isDirectory());
      assert.equal(fs.readFileSync(path.join(dest, 'a/x'), 'utf8'), 'through the link?\n');
      assert.equal(fs.readFileSync(path.join(dest, 'a/victim'), 'utf8'), 'overwritten?\n');
      assert.deepEqual(s.skipped.map((k) => k.code), ['IN_THE_WAY'], 'the symlink is not made over the directory');
    }
  });

  it('a symlink already in DEST where the image has a directory is replaced, not followed', async () => {
    const { dest, s } = await run([
      dir(2, 2, [{ ino: 3, name: 'a', type: 4 }]),
      dir(3, 2, [{ ino: 11, name: 'victim', type: 8 }, { ino: 12, name: 'new', type: 8 }]),
      file(11, 'replaced\n'),
      file(12, 'new\n'),
    ], (d) => fs.symlinkSync(outside, path.join(d, 'a')));
    assert.ok(fs.lstatSync(path.join(dest, 'a')).isDirectory());
    assert.deepEqual(listTree(dest).filter((x) => x !== '.snapdump-restore.json'), ['a', 'a/new', 'a/victim']);
    assert.equal(s.exitStatus, 0);
  });

  it('a symlink planted by the image, then a file of the same name: the link is replaced, its target untouched', async () => {
    const victim = path.join(outside, 'victim');
    const { dest, s } = await run([
      // Inode 10 (a symlink to the file outside) comes before inode 11 (a file of the same name).
      dir(2, 2, [{ ino: 10, name: 'v', type: 10 }, { ino: 11, name: 'v', type: 8 }, { ino: 10, name: 'abs', type: 10 }]),
      symlink(10, victim),
      file(11, 'evil contents\n', { mode: 0o104755 }),
    ]);
    assert.ok(fs.lstatSync(path.join(dest, 'v')).isFile());
    assert.equal(fs.readFileSync(path.join(dest, 'v'), 'utf8'), 'evil contents\n');
    assert.equal(fs.readlinkSync(path.join(dest, 'abs')), victim, 'absolute targets are restored as they are, never followed');
    assert.equal(s.exitStatus, 0);
  });

  it('a hard link in DEST to a file outside is replaced, never written through', async () => {
    const { dest, s } = await run([
      dir(2, 2, [{ ino: 11, name: 'victim', type: 8 }, { ino: 12, name: 'link', type: 10 }]),
      file(11, 'image data that must not reach the file outside\n'),
      symlink(12, 'victim'),
    ], (d) => {
      fs.linkSync(path.join(outside, 'victim'), path.join(d, 'victim'));
      fs.writeFileSync(path.join(d, 'link'), 'a file where the image has a symlink');
    });
    assert.equal(fs.readFileSync(path.join(dest, 'victim'), 'utf8'), 'image data that must not reach the file outside\n');
    assert.equal(fs.statSync(path.join(dest, 'victim')).nlink, 1);
    assert.equal(fs.readlinkSync(path.join(dest, 'link')), 'victim');
    assert.equal(s.exitStatus, 0);
  });

  it('a rename whose NEW goes through a symlink in DEST makes a real directory instead', async () => {
    const { dest } = await run([
      dir(2, 2, [{ ino: 11, name: 'f', type: 8 }]),
      file(11, 'renamed\n'),
    ], (d) => fs.symlinkSync(outside, path.join(d, 'ln')), { renames: [{ from: 'f', to: 'ln/victim' }] });
    assert.ok(fs.lstatSync(path.join(dest, 'ln')).isDirectory());
    assert.equal(fs.readFileSync(path.join(dest, 'ln/victim'), 'utf8'), 'renamed\n');
  });

  it('refuses ".." in PATH and NEW operands', async () => {
    const img = buildImage([dir(2, 2, [{ ino: 11, name: 'f', type: 8 }]), file(11, 'x')]);
    const dest = path.join(work, 'dest-usage');
    await assert.rejects(restore({ files: [], inputs: [memInput(img)], dest, paths: ['../f'] }), { code: 'ERR_USAGE' });
    await assert.rejects(restore({ files: [], inputs: [memInput(img)], dest, renames: [{ from: 'f', to: '../escaped' }] }), { code: 'ERR_USAGE' });
    await assert.rejects(restore({ files: [], inputs: [memInput(img)], dest, renames: [{ from: 'f', to: 'a/../../escaped' }] }), { code: 'ERR_USAGE' });
    outsideUntouched();
    assert.ok(!fs.existsSync(dest), 'nothing was created');
  });

  it('a symlink to a directory outside, named like a directory of the image in a deeper level', async () => {
    // d/ has a symlink "s" (→ outside) and also a directory "s" with a file: nothing lands outside.
    const { dest } = await run([
      dir(2, 2, [{ ino: 3, name: 'd', type: 4 }]),
      dir(3, 2, [{ ino: 4, name: 's', type: 4 }, { ino: 20, name: 's', type: 10 }, { ino: 20, name: 't', type: 10 }]),
      dir(4, 3, [{ ino: 21, name: 'victim', type: 8 }]),
      symlink(20, outside),
      file(21, 'inside\n'),
    ]);
    assert.ok(fs.lstatSync(path.join(dest, 'd/s')).isDirectory());
    assert.equal(fs.readlinkSync(path.join(dest, 'd/t')), outside);
    assert.equal(fs.readFileSync(path.join(dest, 'd/s/victim'), 'utf8'), 'inside\n');
  });
});
