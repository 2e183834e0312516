/**
 * Nanosecond times, times outside the 32-bit range and birth times: kept in snapdump's header
 * extension (src/format/exact-times.ts), restored exactly by snapdump, shown by list --json and
 * verify, and harmless to the real Linux restore (restore -C finds no difference, restore -r
 * applies the microseconds of the Linux fields).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as sysx from '../../src/native/sysx.js';
import { haveProgram, isRoot, removeTree, run, tempDir } from '../helpers/tree.js';
import { snapdump } from '../helpers/cli.js';

const NS = 1_000_000_000n;

/**
 * snapdump restore of the whole image into `dest`, then --finish (removes the restore state,
 * which changes the root's mtime: the root gets the source root's times back, as in
 * test/verify).
 */
function restoreAll(image: string, dest: string, src: string): void {
  const r = snapdump(['restore', '-f', image, '-C', dest, '-q']);
  assert.equal(r.status, 0, r.stderr);
  const f = snapdump(['restore', '--finish', '-C', dest]);
  assert.equal(f.status, 0, f.stderr);
  const t = times(src);
  setNs(dest, t.atimeNs, t.mtimeNs);
}

function setNs(p: string, atimeNs: bigint, mtimeNs: bigint): void {
  const split = (t: bigint): [number, number] => {
    let s = t / NS; let n = t % NS;
    if (n < 0n) { n += NS; s -= 1n; }
    return [Number(s), Number(n)];
  };
  const [as, an] = split(atimeNs);
  const [ms, mn] = split(mtimeNs);
  sysx.lutimesNs(p, as, an, ms, mn);
}

function times(p: string): { atimeNs: bigint; mtimeNs: bigint } {
  const st = fs.lstatSync(p, { bigint: true });
  return { atimeNs: st.atimeNs, mtimeNs: st.mtimeNs };
}

/** Relative path → the exact times set on it. */
const EXPECTED: Record<string, { atimeNs: bigint; mtimeNs: bigint }> = {
  'ns.txt': { atimeNs: 1_600_000_000_123_456_789n, mtimeNs: 1_650_000_000_987_654_321n },
  'sub': { atimeNs: 1_500_000_000_000_000_001n, mtimeNs: 1_500_000_000_999_999_999n },
  'sub/inner.bin': { atimeNs: 1_700_000_000_000_000_007n, mtimeNs: 1_700_000_001_000_000_009n },
  'link': { atimeNs: 1_400_000_000_111_111_111n, mtimeNs: 1_400_000_000_222_222_222n },
  'y1960.txt': { atimeNs: -315_619_200n * NS + 1n, mtimeNs: -315_619_200n * NS + 500_000_000n },
  'y2200.txt': { atimeNs: 7_258_118_400n * NS + 3n, mtimeNs: 7_258_118_400n * NS + 4n },
  'fifo': { atimeNs: 1_234_567_890_000_000_123n, mtimeNs: 1_234_567_890_000_000_456n },
};

describe('exact times and birth times', () => {
  let work: string;
  let src: string;
  let image: string;

  before(() => {
    work = tempDir('exact-times');
    src = path.join(work, 'src');
    image = path.join(work, 'img.dump');
    fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(src, 'ns.txt'), 'nanoseconds\n');
    fs.writeFileSync(path.join(src, 'sub/inner.bin'), Buffer.alloc(5000, 7));
    fs.writeFileSync(path.join(src, 'y1960.txt'), 'past\n');
    fs.writeFileSync(path.join(src, 'y2200.txt'), 'future\n');
    fs.symlinkSync('ns.txt', path.join(src, 'link'));
    run('mkfifo', [path.join(src, 'fifo')]);
    for (const [rel, t] of Object.entries(EXPECTED)) setNs(path.join(src, rel), t.atimeNs, t.mtimeNs);
    const r = snapdump(['backup', src, '-f', image, '-q']);
    assert.equal(r.status, 0, r.stderr);
  });
  after(() => removeTree(work));

  it('snapdump restore sets atime and mtime to the nanosecond, outside 1970..2106 too', () => {
    const dest = path.join(work, 'restored');
    restoreAll(image, dest, src);
    for (const [rel, t] of Object.entries(EXPECTED)) {
      assert.deepEqual(times(path.join(dest, rel)), t, rel);
    }
    const v = snapdump(['verify', '-f', image, '-C', dest]);
    assert.equal(v.status, 0, v.stdout.toString() + v.stderr);
  });

  it('verify compares to the nanosecond and names the difference', () => {
    const dest = path.join(work, 'restored2');
    restoreAll(image, dest, src);
    const t = EXPECTED['ns.txt']!;
    setNs(path.join(dest, 'ns.txt'), t.atimeNs, t.mtimeNs + 1n);
    const v = snapdump(['verify', '-f', image, '-C', dest, '--json']);
    assert.equal(v.status, 1);
    const diffs = v.events().filter((e) => e.type === 'difference');
    assert.deepEqual(diffs.map((d) => [d.path, d.kind]), [['./ns.txt', 'times']]);
    assert.match(String(diffs[0]!.detail), /image 1650000000\.987654321, tree 1650000000\.987654322/);
    // The Linux fields hold the same microsecond: --microseconds does not see it.
    assert.equal(snapdump(['verify', '-f', image, '-C', dest, '--microseconds']).status, 0);
  });

  it('birth times are kept: list --json shows them, verify --birth-time matches the source', () => {
    const birth = sysx.statxBirth(path.join(src, 'ns.txt'));
    const l = snapdump(['list', '-f', image, '--json']);
    assert.equal(l.status, 0, l.stderr);
    const entries = new Map(l.events().filter((e) => e.kind === 'entry').map((e) => [e.path, e]));
    const e = entries.get('./ns.txt')!;
    assert.equal(e.mtime, '1650000000.987654321');
    if (birth) {
      assert.equal(e.birthtime, `${birth.sec}.${String(birth.nsec).padStart(9, '0')}`);
      assert.equal(snapdump(['verify', '-f', image, '-C', src, '--birth-time']).status, 0, 'the source has the same birth times');
      // A restored file is a new file: Linux cannot set its birth time, and verify says so when asked.
      const dest = path.join(work, 'restored3');
      restoreAll(image, dest, src);
      const v = snapdump(['verify', '-f', image, '-C', dest, '--birth-time', '--json']);
      assert.equal(v.status, 1);
      assert.ok(v.events().some((d) => d.type === 'difference' && d.kind === 'birthtime' && d.path === './ns.txt'));
    } else {
      assert.equal(e.birthtime, null, 'no birth time on this file system');
    }
  });

  it('the real restore -C reads such an image and finds no difference; restore -r applies the microseconds', { skip: !(isRoot && haveProgram('restore')) && 'needs root and Linux restore' }, () => {
    const c = run('restore', ['-C', '-f', image, '-D', src]);
    assert.equal(c.status, 0, `restore -C:\n${c.stdout}\n${c.stderr}`);
    const dest = path.join(work, 'linux');
    fs.mkdirSync(dest);
    const r = run('restore', ['-r', '-y', '-T', work, '-f', image], { cwd: dest });
    assert.equal(r.status, 0, r.stderr);
    const us = (t: bigint) => (t / 1000n) * 1000n;
    for (const rel of ['ns.txt', 'sub/inner.bin', 'sub']) {
      const t = EXPECTED[rel]!;
      assert.deepEqual(times(path.join(dest, rel)), { atimeNs: us(t.atimeNs), mtimeNs: us(t.mtimeNs) }, rel);
    }
    // Out of range: the Linux fields hold the clamped values.
    assert.equal(times(path.join(dest, 'y1960.txt')).mtimeNs, 0n);
  });
});
