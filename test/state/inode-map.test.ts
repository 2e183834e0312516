/** The persistent inode map: numbering rules, the file format read strictly, locking. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  assignNumbers, emptyInodeMap, formatInodeMap, inodeMapExists, inodeMapFile, openInodeMap, parseInodeMap,
  type InodeMapData, type MapObject,
} from '../../src/state/inode-map.js';
import { SnapdumpError } from '../../src/errors.js';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'snapdump-inomap-'));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
let counter = 0;
const freshDir = () => path.join(tmpRoot, `s${counter++}`);

const obj = (key: string, mtimeSec = 0, seed = 0): MapObject => ({ key, mtimeSec, seed });

/** One backup: numbers of `keys` (as a record) and the map to use next time. */
function backupOf(d: InodeMapData, objs: MapObject[], date: number): { nums: Record<string, number>; next: InodeMapData } {
  const { numbers, next } = assignNumbers(d, objs, date);
  return { nums: Object.fromEntries(objs.map((o, i) => [o.key, numbers[i]!])), next };
}

describe('assignNumbers', () => {
  it('a new map numbers densely from 3; known objects keep their number at every backup', () => {
    const a = backupOf(emptyInodeMap('n'), [obj('100'), obj('7'), obj('9999999999')], 1000);
    assert.deepEqual(a.nums, { 100: 3, 7: 4, 9999999999: 5 });
    const b = backupOf(a.next, [obj('9999999999'), obj('42', 1500), obj('100')], 2000);
    assert.deepEqual(b.nums, { 9999999999: 5, 42: 6, 100: 3 });
    assert.deepEqual([...b.next.free], [[4, 2000]], 'the number of the object gone is freed at this date');
    assert.equal(b.next.next, 7);
  });

  it('a freed number is not reused in the backup that frees it, and later only for an object newer than its freeing', () => {
    const a = backupOf(emptyInodeMap('n'), [obj('1'), obj('2')], 1000);
    // 2 is gone and a new object appears in the same backup: it gets a new number, not 4.
    const b = backupOf(a.next, [obj('1'), obj('3', 1500)], 2000);
    assert.equal(b.nums['3'], 5);
    // Next backup: an object older than the freeing date does not get 4; a newer one does.
    const c = backupOf(b.next, [obj('1'), obj('3'), obj('old', 1999), obj('new', 2001)], 3000);
    assert.equal(c.nums['old'], 6);
    assert.equal(c.nums['new'], 4);
    assert.deepEqual([...c.next.free], []);
  });

  it('seeds keep the source\'s own numbers when free; numbers stay unique', () => {
    const a = backupOf(emptyInodeMap('n'), [obj('12', 0, 12), obj('500', 0, 500), obj('big')], 1000);
    assert.deepEqual(a.nums, { 12: 12, 500: 500, big: 501 });
    const b = backupOf(a.next, [obj('12'), obj('other', 0, 500), obj('500')], 2000);
    assert.equal(b.nums['500'], 500);
    assert.notEqual(b.nums['other'], 500);
    assert.equal(new Set(Object.values(b.nums)).size, 3);
  });
});

describe('the map file', () => {
  it('round-trips and is read strictly, naming file and line', () => {
    const d = backupOf(backupOf(emptyInodeMap('/data\twith tab'), [obj('5'), obj('p:2f6d6e74'), obj('6')], 10).next, [obj('5')], 20).next;
    const text = formatInodeMap(d);
    assert.deepEqual(parseInodeMap(text, 'F'), d);
    const bad = (t: string, re: RegExp) => assert.throws(() => parseInodeMap(t, 'F'), (e: unknown) => e instanceof SnapdumpError && e.code === 'ERR_STATE' && re.test(e.message));
    bad('garbage\n', /^F, line 1: not a snapdump inode map/);
    bad(text.replace('next\t6', 'next\tx'), /line 3/);
    bad(text + 'o\t5\t4\n', /line \d+: key 5 appears twice/);
    bad(text + 'o\t77\t3\n', /inode number 3 appears twice/);
    bad(text + 'o\t78\t99\n', /outside 3\.\.5/);
    bad(text + 'x\t1\t2\n', /unknown record/);
  });

  it('openInodeMap: missing is empty; commit is atomic; the lock excludes a second backup; a file of another name is refused', async () => {
    const dir = freshDir();
    assert.equal(inodeMapExists(dir, 'a'), false);
    const h = await openInodeMap(dir, 'a');
    assert.equal(h.existed, false);
    await assert.rejects(openInodeMap(dir, 'a', { lock: { timeoutMs: 100 } }), (e: unknown) => e instanceof SnapdumpError && e.code === 'ERR_LOCKED');
    // Another dump name has its own map and lock.
    const other = await openInodeMap(dir, 'b');
    await other.release();
    await h.commit(backupOf(h.data, [obj('9')], 5).next);
    await h.release();
    assert.equal(inodeMapExists(dir, 'a'), true);
    const again = await openInodeMap(dir, 'a');
    assert.equal(again.existed, true);
    assert.deepEqual([...again.data.objects], [['9', 3]]);
    await again.release();
    assert.deepEqual(fs.readdirSync(path.dirname(inodeMapFile(dir, 'a'))).filter((n) => !n.endsWith('.map')), [], 'no temp or lock file left');
    fs.copyFileSync(inodeMapFile(dir, 'a'), inodeMapFile(dir, 'c'));
    await assert.rejects(openInodeMap(dir, 'c'), /is the inode map of "a", not of "c"/);
  });
});
