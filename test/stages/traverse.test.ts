/** traverse: what the walk reads of each directory, and what it never follows. */
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as sysx from '../../src/native/sysx.js';
import { traverse, type DumpPlan } from '../../src/stages/traverse.js';
import { XCol } from '../../src/stages/entry-table.js';
import { readInodeFlags } from '../../src/stages/xattr-emit.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'snapdump-traverse-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The table id of the object at `rel` below the root (by its paths), or -1. */
function idOf(plan: DumpPlan, rel: string): number {
  const t = plan.table;
  const want = path.join(String(t.path(0)), rel);
  for (let id = 0; id < t.count; id++) if (String(t.path(id)) === want) return id;
  return -1;
}

it('a directory swapped for a symbolic link after it was listed is not followed: dumped empty, with a warning', async () => {
  const root = path.join(tmp, 'swap');
  const outside = path.join(tmp, 'outside');
  fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(root, 'sub', 'mine'), 'm');
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'secret'), 's');
  let swapped = false;
  // The root is listed (sub is then known as a directory) before sub's own listing starts, so
  // the swap falls exactly between the two.
  const plan = await traverse({
    source: root, concurrency: 2,
    afterRootListed: () => {
      swapped = true;
      fs.rmSync(path.join(root, 'sub'), { recursive: true });
      fs.symlinkSync(outside, path.join(root, 'sub'));
    },
  });
  assert.ok(swapped);
  const sub = idOf(plan, 'sub');
  assert.ok(sub > 0);
  assert.ok(plan.table.isDir(sub), 'recorded as the directory it was when listed');
  assert.equal(plan.table.get(sub, XCol.childCount), 0);
  assert.equal(idOf(plan, 'sub/secret'), -1, 'nothing read through the link');
  const notice = plan.notices.find((n) => n.code === 'UNREADABLE_DIR');
  assert.ok(notice, JSON.stringify(plan.notices));
  assert.equal(notice.path, path.join(fs.realpathSync(root), 'sub'));
  assert.match(notice.message, /(ELOOP|ENOTDIR).*dumped empty/);
  assert.equal(notice.skipped, true);
});

it('directory flags and extended attributes read by the walk are the ones read by path', async (t) => {
  const root = path.join(tmp, 'attrs');
  for (const d of ['plain', 'flagged', 'ea', 'both']) fs.mkdirSync(path.join(root, d), { recursive: true });
  try {
    for (const d of ['flagged', 'both']) execFileSync('chattr', ['+dA', path.join(root, d)], { stdio: 'pipe' });
  } catch (e) {
    return t.skip(`chattr not supported here: ${(e as Error).message}`);
  }
  for (const d of ['ea', 'both']) sysx.setXattr(path.join(root, d), 'user.x', Buffer.from('1'));
  const plan = await traverse({ source: root, concurrency: 2 });
  for (const d of ['', 'plain', 'flagged', 'ea', 'both']) {
    const id = idOf(plan, d);
    const p = path.join(root, d);
    assert.equal(plan.table.get(id, XCol.dumpFlags), readInodeFlags(p, true), d);
    const attrs = plan.table.xattrs.get(id) ?? [];
    assert.deepEqual(attrs.map((a) => [a.name, Buffer.from(a.value).toString()]), d === 'ea' || d === 'both' ? [['user.x', '1']] : [], d);
  }
  assert.equal(plan.table.get(idOf(plan, 'flagged'), XCol.dumpFlags) & 0xc0, 0xc0, 'nodump and noatime');
});
