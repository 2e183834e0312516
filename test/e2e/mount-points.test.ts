/**
 * Mount points below the source are not crossed: by default each is recorded as a symbolic link
 * to its own path (ONTAP junction), with --junctions=dir as an empty directory (Linux dump).
 * Real mounts: a tmpfs and a bind mount of the same file system (same st_dev) under the source.
 * Their numbers are not the mounted roots' st_ino, so incrementals stay possible.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backup } from '../../src/backup.js';
import * as sysx from '../../src/native/sysx.js';
import { restore } from '../../src/restore/index.js';
import { snapdump } from '../helpers/cli.js';
import { haveProgram, isRoot, removeTree, run, tempDir } from '../helpers/tree.js';

const nextSecond = () => new Promise((r) => setTimeout(r, 1100));

describe('mount points below the source', { skip: !isRoot && 'needs root to mount' }, () => {
  let work: string;
  let src: string;
  let state: string;
  const mounted: string[] = [];
  const p = (rel: string) => path.join(src, rel);

  before(() => {
    work = tempDir('mounts');
    src = path.join(work, 'src');
    state = path.join(work, 'state');
    fs.mkdirSync(p('sub/mnt'), { recursive: true });
    fs.mkdirSync(p('bind'));
    fs.writeFileSync(p('top.txt'), 'top\n');
    fs.writeFileSync(p('sub/under-mnt-dir.txt'), 'beside the mount\n');
    fs.writeFileSync(p('sub/mnt/hidden.txt'), 'covered by the mount\n');
    const elsewhere = path.join(work, 'elsewhere');
    fs.mkdirSync(elsewhere);
    fs.writeFileSync(path.join(elsewhere, 'e.txt'), 'from the bind mount\n');
    const t = run('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'snapdump-test', p('sub/mnt')]);
    assert.equal(t.status, 0, t.stderr);
    mounted.push(p('sub/mnt'));
    fs.writeFileSync(p('sub/mnt/in-tmpfs.txt'), 'on the tmpfs\n');
    sysx.setXattr(p('sub/mnt'), 'user.mounted-root', Buffer.from('belongs to the tmpfs'));
    // A time past 32 bits: the walk leaves the row to the TypeScript range checks, which must not
    // undo the junction the mount point becomes.
    const y2200 = new Date('2200-01-01T00:00:00Z');
    fs.utimesSync(p('sub/mnt'), y2200, y2200);
    const b = run('mount', ['--bind', elsewhere, p('bind')]);
    assert.equal(b.status, 0, b.stderr);
    mounted.push(p('bind'));
  });
  after(() => {
    for (const m of mounted.reverse()) run('umount', [m]);
    removeTree(work);
  });

  function entries(img: string): Map<string, Record<string, unknown>> {
    const l = snapdump(['list', '-f', img, '--json']);
    assert.equal(l.status, 0, l.stderr);
    return new Map(l.events().filter((e) => e.kind === 'entry').map((e) => [String(e.path), e]));
  }

  it('default: junctions are symbolic links to the mount point, nothing below is read', async () => {
    const img = path.join(work, 'l0.dump');
    const events: Array<Record<string, unknown>> = [];
    const s = await backup({ source: src, output: img, level: 0, stateDir: state, name: 'm', onEvent: (e) => events.push(e as never) });
    assert.equal(s.exitStatus, 0, JSON.stringify(s.skipped));
    const notes = events.filter((e) => e.type === 'warning' && e.code === 'MOUNT_POINT').map((e) => e.path).sort();
    assert.deepEqual(notes, [p('bind'), p('sub/mnt')]);
    const list = entries(img);
    assert.equal(list.get('./sub/mnt')?.type, 'symlink');
    assert.equal(list.get('./bind')?.type, 'symlink', 'a bind mount of the same file system is a mount point too');
    assert.equal(list.get('./sub/mnt')?.size, Buffer.byteLength(p('sub/mnt')));
    assert.deepEqual([...list.keys()].filter((k) => k.startsWith('./sub/mnt/') || k.startsWith('./bind/')), []);
    assert.ok(list.has('./sub/under-mnt-dir.txt'));
    const dest = path.join(work, 'snap');
    const r = await restore({ files: [img], dest });
    assert.equal(r.exitStatus, 0, JSON.stringify(r.skipped));
    assert.equal(fs.readlinkSync(path.join(dest, 'sub/mnt')), p('sub/mnt'));
    assert.equal(fs.readlinkSync(path.join(dest, 'bind')), p('bind'));
    // verify takes a junction for the mount point it names and does not look below it.
    const v = snapdump(['verify', '-f', img, '-C', src]);
    assert.equal(v.status, 0, v.stdout.toString() + v.stderr);
  });

  it('the real restore reads the junctions; a level 1 keeps them and applies with restore -r', { skip: !haveProgram('restore') && 'needs Linux restore' }, async () => {
    const l0 = path.join(work, 'l0.dump');
    const dest = path.join(work, 'linux');
    fs.mkdirSync(dest);
    assert.equal(run('restore', ['-r', '-y', '-T', work, '-f', l0], { cwd: dest }).status, 0);
    assert.equal(fs.readlinkSync(path.join(dest, 'sub/mnt')), p('sub/mnt'));
    await nextSecond();
    fs.writeFileSync(p('sub/new.txt'), 'new at level 1\n');
    fs.writeFileSync(p('sub/mnt/in-tmpfs-2.txt'), 'not read either\n');
    const l1 = path.join(work, 'l1.dump');
    // Before, a mount point's st_ino (tmpfs root: 1) forced dense numbering and refused levels > 0.
    const s = await backup({ source: src, output: l1, level: 1, stateDir: state, name: 'm' });
    assert.equal(s.exitStatus, 0, JSON.stringify(s.skipped));
    assert.ok(s.base);
    const r = run('restore', ['-r', '-y', '-T', work, '-f', l1], { cwd: dest });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(fs.readFileSync(path.join(dest, 'sub/new.txt'), 'utf8'), 'new at level 1\n');
    assert.equal(fs.readlinkSync(path.join(dest, 'sub/mnt')), p('sub/mnt'));
    assert.equal(fs.readlinkSync(path.join(dest, 'bind')), p('bind'));
    const snap = path.join(work, 'snap');
    const r1 = await restore({ files: [l1], dest: snap });
    assert.equal(r1.exitStatus, 0, JSON.stringify(r1.skipped));
    assert.equal(fs.readlinkSync(path.join(snap, 'sub/mnt')), p('sub/mnt'));
    assert.ok(fs.existsSync(path.join(snap, 'sub/new.txt')));
  });

  it('--junctions=dir records empty directories, as Linux dump does', () => {
    const img = path.join(work, 'dir.dump');
    const r = snapdump(['backup', src, '-f', img, '--junctions=dir', '--no-update', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const list = entries(img);
    assert.equal(list.get('./sub/mnt')?.type, 'dir');
    assert.equal(list.get('./bind')?.type, 'dir');
    assert.deepEqual([...list.keys()].filter((k) => k.startsWith('./sub/mnt/') || k.startsWith('./bind/')), []);
    const dest = path.join(work, 'dirs');
    assert.equal(snapdump(['restore', '-f', img, '-C', dest, '-q']).status, 0);
    assert.deepEqual(fs.readdirSync(path.join(dest, 'sub/mnt')), []);
    assert.deepEqual(sysx.listXattrs(path.join(dest, 'sub/mnt')), [], "the mounted root's attributes are not the mount point's");
    assert.ok(fs.lstatSync(path.join(dest, 'bind')).isDirectory());
    if (haveProgram('restore')) {
      const t = run('restore', ['-t', '-f', img]);
      assert.equal(t.status, 0, t.stderr);
      assert.match(t.stdout.toString(), /\t\.\/sub\/mnt\n/);
    }
    assert.equal(snapdump(['backup', src, '-f', img, '--junctions=bogus', '--no-update']).status, 2);
  });
});
