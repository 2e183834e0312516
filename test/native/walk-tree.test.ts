/**
 * walkTreeAsync (native/walk-tree.c): the whole walk in native code, building the entry table in
 * the layout src/stages/entry-table.ts reads. Checked against a plain JavaScript walk of the
 * same tree (readdir + lstat), over more entries than the table first reserves.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as sysx from '../../src/native/sysx.js';
import { COLS, Col } from '../../src/workers/read-protocol.js';
import { ROW, XCol } from '../../src/stages/entry-table.js';

const WALK_COLS = sysx.STAT_FIELDS + 3;

function options(root: string, over: Partial<sysx.WalkTreeOptions> = {}): sysx.WalkTreeOptions {
  const st = fs.lstatSync(root);
  return {
    root, rootRow: new Float64Array(ROW), birth: true, checkAccess: false, threads: 3, rootDev: st.dev, capacity: 0,
    exclude: new Float64Array(0), mounts: [], patterns: [], rootPrefix: Buffer.byteLength(root + '/'),
    progress: new Int32Array(new ArrayBuffer(12)), ...over,
  };
}

/** path (relative, bytes as latin1 so raw names survive) -> id, from the table's links. */
function pathsOf(w: sysx.WalkedTree): Map<string, number> {
  const rel = new Map<number, string>([[0, '']]);
  const out = new Map<string, number>();
  // Parents are added before their children, and a directory's links are contiguous.
  const byParent = (id: number) => w.rows[id * ROW + XCol.parent]!;
  const pending = [0];
  while (pending.length) {
    const dir = pending.pop()!;
    const start = w.rows[dir * ROW + XCol.childStart]!;
    const count = w.rows[dir * ROW + XCol.childCount]!;
    for (let l = start; l < start + count; l++) {
      const child = w.linkChild[l]!;
      const len = Math.abs(w.linkLength[l]!);
      const name = w.names.toString('latin1', w.linkStart[l]!, w.linkStart[l]! + len);
      const p = rel.get(dir) ? `${rel.get(dir)}/${name}` : name;
      out.set(p, child);
      if (byParent(child) === dir && (w.rows[child * ROW + Col.mode]! & 0o170000) === 0o040000 && !rel.has(child)) {
        rel.set(child, p);
        pending.push(child);
      }
    }
  }
  return out;
}

/** The JavaScript reference: every path below root with its lstat. */
function referenceWalk(root: string): Map<string, fs.BigIntStats> {
  const out = new Map<string, fs.BigIntStats>();
  const walk = (abs: Buffer, rel: string) => {
    for (const name of fs.readdirSync(abs, { encoding: 'buffer' })) {
      const child = Buffer.concat([abs, Buffer.from('/'), name]);
      const p = rel ? `${rel}/${name.toString('latin1')}` : name.toString('latin1');
      const st = fs.lstatSync(child, { bigint: true });
      out.set(p, st);
      if (st.isDirectory()) walk(child, p);
    }
  };
  walk(Buffer.from(root), '');
  return out;
}

describe('walkTreeAsync', () => {
  let root: string;
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'snapdump-walktree-'));
    // 3,000+ objects (the table first reserves 1,024 rows), nested directories, hard links
    // across directories, names that are not UTF-8, a 255-byte name, symlinks, a FIFO.
    for (let d = 0; d < 30; d++) {
      const dir = path.join(root, `d${d}`, `e${d % 3}`);
      fs.mkdirSync(dir, { recursive: true });
      for (let f = 0; f < 100; f++) fs.writeFileSync(path.join(dir, `f${f}`), 'x'.repeat(f));
    }
    fs.writeFileSync(path.join(root, 'linked'), 'l');
    fs.linkSync(path.join(root, 'linked'), path.join(root, 'd1', 'linked-too'));
    fs.linkSync(path.join(root, 'linked'), path.join(root, 'd2', 'e2', 'linked-three'));
    fs.writeFileSync(Buffer.concat([Buffer.from(root + '/raw-'), Buffer.from([0xff, 0xfe])]), 'r');
    fs.mkdirSync(Buffer.concat([Buffer.from(root + '/rawdir-'), Buffer.from([0xc0])]));
    fs.writeFileSync(Buffer.concat([Buffer.from(root + '/rawdir-'), Buffer.from([0xc0]), Buffer.from('/inside')]), 'i');
    fs.writeFileSync(path.join(root, 'n'.repeat(255)), '');
    fs.symlinkSync('d0', path.join(root, 'link-to-d0'));
    // A device: its number needs the format's checks, so the TypeScript fillRow fills its row.
    sysx.mknod(path.join(root, 'chr'), fs.constants.S_IFCHR | 0o600, 0x0103);
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('writes the columns the TypeScript table reads', () => {
    const layout = sysx.tableLayout();
    const want = {
      kind: Col.kind, ino: Col.ino, offset: Col.offset, length: Col.length, bits: Col.bits, mode: Col.mode, nlink: Col.nlink,
      uid: Col.uid, gid: Col.gid, size: Col.size, blocks: Col.blocks, rdev: Col.rdev, atime: Col.atime, atimeUsec: Col.atimeUsec,
      mtime: Col.mtime, mtimeUsec: Col.mtimeUsec, ctime: Col.ctime, ctimeUsec: Col.ctimeUsec, mtimeSec: Col.mtimeSec,
      mtimeNsec: Col.mtimeNsec, ctimeSec: Col.ctimeSec, ctimeNsec: Col.ctimeNsec, atimeSec: Col.atimeSec, atimeNsec: Col.atimeNsec,
      birthSec: Col.birthSec, birthNsec: Col.birthNsec,
      srcIno: XCol.srcIno, parent: XCol.parent, childStart: XCol.childStart, childCount: XCol.childCount, dumpFlags: XCol.dumpFlags, ROW,
    };
    assert.equal(COLS, 26);
    assert.deepEqual(layout, want);
  });

  it('builds the table of every object, one row per object and a link per name, as a JavaScript walk sees them', async () => {
    const opts = options(root);
    const w = await sysx.walkTreeAsync(opts);
    const ref = referenceWalk(root);
    const paths = pathsOf(w);
    assert.deepEqual([...paths.keys()].sort(), [...ref.keys()].sort());
    assert.equal(w.count, 1 + new Set([...ref.values()].map((s) => s.ino)).size, 'hard links share a row');
    assert.equal(w.rows.length, w.count * ROW);
    assert.equal(w.hardLinks, true);
    assert.equal(opts.progress[0], w.count, 'progress ends at the count');
    for (const [p, st] of ref) {
      const id = paths.get(p)!;
      const o = id * ROW;
      assert.equal(w.rows[o + XCol.srcIno], Number(st.ino), p);
      if (p === 'chr') continue;
      assert.equal(w.rows[o + Col.mode], Number(st.mode), p);
      assert.equal(w.rows[o + Col.size], Number(st.size), p);
      assert.equal(w.rows[o + Col.nlink], Number(st.nlink), p);
      assert.equal(w.rows[o + Col.mtimeSec]! * 1e9 + w.rows[o + Col.mtimeNsec]!, Number(st.mtimeNs), p);
      assert.equal(w.rows[o + Col.ctimeNsec], Number(st.ctimeNs % 1_000_000_000n), p);
      assert.equal(w.rows[o + Col.kind], st.isFile() ? 0 : st.isSymbolicLink() ? 1 : 2, p);
      assert.equal(w.rows[o + Col.length], st.isFile() ? Number(st.size) : 0, p);
      const parent = p.includes('/') ? paths.get(p.slice(0, p.lastIndexOf('/')))! : 0;
      if (Number(st.nlink) === 1 || st.isDirectory()) assert.equal(w.rows[o + XCol.parent], parent, p);
    }
    // The first link of every object is one of its names; raw names are flagged by a negative length.
    for (let id = 1; id < w.count; id++) assert.equal(w.linkChild[w.firstLink[id]!], id);
    const raw = [...w.linkLength].filter((n) => n < 0).length;
    assert.equal(raw, 2, 'raw-\\xff\\xfe and rawdir-\\xc0');
    // Directories: every one walked, with its path; the 255-byte name is reported.
    const dirs = [...ref].filter(([, s]) => s.isDirectory()).length;
    assert.equal(w.dirIds.length, dirs + 1);
    assert.equal(w.dirPaths[0], root);
    const rawDir = w.dirPaths.find((p) => Buffer.isBuffer(p));
    assert.ok(rawDir && Buffer.from(rawDir).toString('latin1').endsWith('rawdir-\xc0'));
    const issues = [...Array(w.issues.length / sysx.WALK_ISSUE_FIELDS).keys()].map((i) => w.issues[i * sysx.WALK_ISSUE_FIELDS]);
    assert.deepEqual(issues, [sysx.WalkIssue.Name255]);
    assert.deepEqual([...w.slow], [paths.get('chr')], 'only the device is left to the checked path');
    assert.equal(w.slowRows[sysx.StatField.mode], fs.lstatSync(path.join(root, 'chr')).mode);
    assert.equal(w.slowRows.length, WALK_COLS);
  });

  it('leaves out objects by (dev, ino) and entries by name and path pattern, and does not enter mount points', async () => {
    const linked = fs.lstatSync(path.join(root, 'linked'));
    const w = await sysx.walkTreeAsync(options(root, {
      exclude: Float64Array.of(linked.dev, linked.ino),
      patterns: [{ path: false, shape: 2, text: 'f9' }, { path: true, shape: 1, text: 'd3/e0' }, { path: false, shape: 2, text: 'rawdir-' }],
      mounts: [path.join(root, 'd4')],
    }));
    const paths = pathsOf(w);
    assert.ok(!paths.has('linked') && !paths.has('d1/linked-too'), 'every name of an excluded object');
    assert.ok(!paths.has('d0/e0/f9') && !paths.has('d0/e0/f95') && paths.has('d0/e0/f8'));
    assert.ok(!paths.has('d3/e0') && paths.has('d3'));
    assert.ok(paths.has('d4') && !paths.has('d4/e1'), 'the mount point is in its parent, not walked');
    const d4 = w.dirIds.indexOf(paths.get('d4')!);
    assert.ok(w.dirBits[d4]! & sysx.WalkDirBits.Mount);
    // The 28 directories walked below d3 and d4 lose f9 and f90..f99 (11 names each); then
    // d3/e0 itself and the raw directory.
    assert.equal(w.excluded, 28 * 11 + 1 + 1);
  });

  it('stops when asked', async () => {
    const opts = options(root);
    opts.progress[1] = 1;
    await assert.rejects(sysx.walkTreeAsync(opts), { code: 'ECANCELED' });
  });

  it('reports a root it cannot list as an unreadable directory', async () => {
    const gone = path.join(root, 'gone');
    fs.mkdirSync(gone);
    const opts = options(gone);
    fs.rmdirSync(gone);
    const w = await sysx.walkTreeAsync(opts);
    assert.equal(w.count, 1);
    assert.equal(w.issues[0], sysx.WalkIssue.UnreadableDir);
    assert.match(w.dirErrors[0]!.message, /^ENOENT: .*scandir/);
  });
});
