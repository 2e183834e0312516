/**
 * Selective restore: a single file, a directory with its subtree, one name of a hard-linked
 * file, NEW=OLD renames (with `\=` for '=' in a name), names that are not in the image, and
 * --dry-run, which writes nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseOperands, restore, type RestoreEvent } from '../../src/restore/index.js';
import * as sysx from '../../src/native/sysx.js';
import { tempDir } from '../helpers/tree.js';
import { buildImage, dir, file, listTree, memInput, removeRestored } from '../helpers/image-builder.js';

const LEVEL0 = fileURLToPath(new URL('../../../../shared/samples/linux-dump-0.4b47/level0.dump', import.meta.url));

let work: string;
let n = 0;
before(() => { work = tempDir('restore-sel'); });
after(() => removeRestored(work));

async function sel(paths: string[], renames: Array<{ from: string; to: string }> = [], files = [LEVEL0]) {
  const dest = path.join(work, `d${++n}`);
  const s = await restore({ files, dest, paths, renames, force: true });
  return { dest, s, tree: listTree(dest) };
}

describe('operands', () => {
  it('parses PATH and NEW=OLD with \\= and \\\\ escapes', () => {
    assert.deepEqual(parseOperands(['a', 'new=old', 'x\\=y', 'a\\=b=c\\=d', 'back\\slash', 'x\\\\=y', 'p=q=r']), {
      paths: ['a', 'x=y', 'back\\slash'],
      renames: [{ to: 'new', from: 'old' }, { to: 'a=b', from: 'c=d' }, { to: 'x\\', from: 'y' }, { to: 'p', from: 'q=r' }],
    });
    assert.throws(() => parseOperands(['=old']), { code: 'ERR_USAGE' });
    assert.throws(() => parseOperands(['new=']), { code: 'ERR_USAGE' });
  });
});

describe('selective restore', () => {
  it('restores a single file with its parent directories', async () => {
    const { dest, s, tree } = await sel(['./sub/deeper/nested.txt']);
    assert.equal(s.exitStatus, 0);
    assert.deepEqual(tree, ['sub', 'sub/deeper', 'sub/deeper/nested.txt']);
    assert.equal(fs.readFileSync(path.join(dest, 'sub/deeper/nested.txt'), 'utf8'), 'nested\n');
    assert.equal(s.files, 1);
    // The parents come with their image attributes.
    const ref = await sel(['sub']);
    assert.equal(fs.statSync(path.join(dest, 'sub')).mtimeMs, fs.statSync(path.join(ref.dest, 'sub')).mtimeMs);
  });

  it('restores a directory with everything below it', async () => {
    const { s, tree } = await sel(['sub/']);
    assert.deepEqual(tree, ['sub', 'sub/deeper', 'sub/deeper/nested.txt', 'sub/hardlink_b', 'sub/moveme.txt']);
    assert.equal(s.exitStatus, 0);
  });

  it('restores one name of a hard-linked file alone, with its data and attributes', async () => {
    const { dest, s, tree } = await sel(['sub/hardlink_b']);
    assert.deepEqual(tree, ['sub', 'sub/hardlink_b']);
    assert.equal(fs.readFileSync(path.join(dest, 'sub/hardlink_b'), 'utf8'), 'hello world\n');
    assert.equal(fs.statSync(path.join(dest, 'sub/hardlink_b')).nlink, 1);
    assert.equal(sysx.getXattr(path.join(dest, 'sub/hardlink_b'), 'user.comment').toString(), 'hello xattr');
    assert.equal(s.links, 0);
    // Inode 2021 is early in the file phase: the reading stops there, before random3m.bin (2028).
    assert.ok(s.imageBytes < fs.statSync(LEVEL0).size - 3 * 1024 * 1024, `read ${s.imageBytes} bytes`);
    // Two of its names: one file, two links.
    const two = await sel(['hardlink_a', 'sub/hardlink_b']);
    assert.equal(fs.statSync(path.join(two.dest, 'hardlink_a')).ino, fs.statSync(path.join(two.dest, 'sub/hardlink_b')).ino);
    assert.equal(two.s.links, 1);
  });

  it('restores under new names (NEW=OLD), for files and directories, names with "=" included', async () => {
    const ops = parseOperands(['renamed.txt=small.txt', 'x/y\\=z=sub/deeper', 'sparse.bin', 'copy\\=of\\=sparse=sparse.bin']);
    const { dest, s, tree } = await sel(ops.paths, ops.renames);
    assert.equal(s.exitStatus, 0, JSON.stringify(s.skipped));
    assert.deepEqual(tree, ['copy=of=sparse', 'renamed.txt', 'sparse.bin', 'x', 'x/y=z', 'x/y=z/nested.txt']);
    assert.equal(fs.readFileSync(path.join(dest, 'renamed.txt'), 'utf8'), 'hello world\n');
    assert.equal(fs.readFileSync(path.join(dest, 'x/y=z/nested.txt'), 'utf8'), 'nested\n');
    // The same inode under its own name and a new one: one file, two names.
    assert.equal(fs.statSync(path.join(dest, 'copy=of=sparse')).ino, fs.statSync(path.join(dest, 'sparse.bin')).ino);
  });

  it('a name in the image containing "=" is selected with \\=', async () => {
    const img = buildImage([
      dir(2, 2, [{ ino: 3, name: 'a=b', type: 4 }, { ino: 10, name: 'k=v.txt', type: 8 }]),
      dir(3, 2, [{ ino: 11, name: 'c', type: 8 }]),
      file(10, 'kv\n'),
      file(11, 'c\n'),
    ]);
    const ops = parseOperands(['a\\=b', 'out\\=put=k\\=v.txt']);
    const dest = path.join(work, 'eq');
    const s = await restore({ files: [], inputs: [memInput(img)], dest, ...ops });
    assert.equal(s.exitStatus, 0);
    assert.deepEqual(listTree(dest), ['a=b', 'a=b/c', 'out=put']);
    assert.equal(fs.readFileSync(path.join(dest, 'out=put'), 'utf8'), 'kv\n');
  });

  it('reports names that are not in the image and restores the others', async () => {
    const { s, tree } = await sel(['nope', 'small.txt', 'sub/nothing'], [{ from: 'absent', to: 'x' }]);
    assert.deepEqual(tree, ['small.txt']);
    assert.equal(s.exitStatus, 1);
    assert.deepEqual(s.skipped.map((k) => [k.code, k.path]), [['NOT_FOUND', 'nope'], ['NOT_FOUND', 'sub/nothing'], ['NOT_FOUND', 'absent']]);
  });

  it('--dry-run lists what would be written and writes nothing', async () => {
    const dest = path.join(work, 'dry');
    const events: RestoreEvent[] = [];
    const s = await restore({ files: [LEVEL0], dest, dryRun: true, paths: ['sub', 'small.txt'], onEvent: (e) => events.push(e) });
    assert.ok(!fs.existsSync(dest), 'DEST is not even created');
    const entries = events.flatMap((e) => (e.type === 'entry' ? [[e.action, e.kind, path.relative(dest, e.path)]] : []));
    assert.deepEqual(entries, [
      ['create', 'dir', 'sub'], ['create', 'dir', 'sub/deeper'],
      // small.txt is the same inode as sub/hardlink_b, which came first in the selection.
      ['create', 'file', 'sub/hardlink_b'], ['link', 'file', 'small.txt'],
      ['create', 'file', 'sub/deeper/nested.txt'], ['create', 'file', 'sub/moveme.txt'],
    ]);
    assert.equal(s.dryRun, true);
    assert.equal(s.exitStatus, 0);
    // The same counts as the real thing.
    const real = await sel(['sub', 'small.txt']);
    assert.deepEqual([s.files, s.links, s.directories, s.dataBytes], [real.s.files, real.s.links, real.s.directories, real.s.dataBytes]);
    // An existing DEST is left exactly as it was.
    const before = listTree(real.dest);
    fs.writeFileSync(path.join(real.dest, 'small.txt'), 'mine\n');
    await restore({ files: [LEVEL0], dest: real.dest, dryRun: true });
    assert.deepEqual(listTree(real.dest), before);
    assert.equal(fs.readFileSync(path.join(real.dest, 'small.txt'), 'utf8'), 'mine\n');
  });
});
