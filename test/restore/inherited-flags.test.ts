/**
 * ext4 passes a directory's nodump/noatime/... flags down to what is made in it. A restore sets
 * every entry's flags exactly as the image has them, as Linux restore does: files restored into a
 * flagged DEST, or into a flagged directory by an incremental, lose the flags they inherited.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backup } from '../../src/backup.js';
import { restore } from '../../src/restore/index.js';
import * as sysx from '../../src/native/sysx.js';
import { haveProgram, pseudoRandom, removeTree, run, tempDir } from '../helpers/tree.js';

const FS_NODUMP_FL = 0x40;
const NOW = Date.now();

function flagsOf(p: string): number {
  const fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try { return sysx.getFlags(fd) & 0xff; } finally { fs.closeSync(fd); }
}

function chattr(flags: string, p: string): void {
  execFileSync('chattr', [flags, p], { stdio: 'pipe' });
}

/** path → low flags byte of every file and directory below `root`. */
function flagMap(root: string): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      if (e.name === '.snapdump-restore.json' || e.name === 'restoresymtable') continue;
      if (e.isDirectory()) { out[r] = flagsOf(path.join(root, r)); walk(r); } else if (e.isFile()) out[r] = flagsOf(path.join(root, r));
    }
  };
  walk('');
  return out;
}

describe('flags inherited from the destination are not kept', () => {
  let work: string;
  let supported = false;
  before(() => {
    work = tempDir('inherited-flags');
    const probe = path.join(work, 'probe');
    fs.mkdirSync(probe);
    try { chattr('+d', probe); supported = true; } catch { supported = false; }
  });
  after(() => {
    try { execFileSync('chattr', ['-R', '-d', work], { stdio: 'pipe' }); } catch { /* nothing flagged */ }
    removeTree(work);
  });

  it('a level 0 into a nodump DEST, and a level 1 adding a file without the flag to a nodump directory, match Linux restore', async (t) => {
    if (!supported) return t.skip('chattr not supported on this file system');
    const src = path.join(work, 'src');
    const state = path.join(work, 'state');
    fs.mkdirSync(path.join(src, 'flagged'), { recursive: true });
    fs.mkdirSync(path.join(src, 'plain'));
    fs.writeFileSync(path.join(src, 'plain', 'small'), 'x');
    fs.writeFileSync(path.join(src, 'plain', 'large'), pseudoRandom(3 << 20, 1)); // not batched
    fs.writeFileSync(path.join(src, 'top'), 'y');
    fs.linkSync(path.join(src, 'top'), path.join(src, 'plain', 'top-link'));
    fs.writeFileSync(path.join(src, 'flagged', 'old'), 'z');
    chattr('+d', path.join(src, 'flagged'));
    chattr('-d', path.join(src, 'flagged', 'old'));
    const l0 = path.join(work, 'l0.dump');
    await backup({ source: src, output: l0, level: 0, name: 'flags', stateDir: state, snapshot: 'off', now: () => new Date(NOW - 10_000) });
    // New in the flagged directory: inherits nodump in the source too; cleared there by hand.
    fs.writeFileSync(path.join(src, 'flagged', 'new'), 'n');
    fs.writeFileSync(path.join(src, 'flagged', 'new-large'), pseudoRandom(3 << 20, 2));
    for (const f of ['new', 'new-large']) chattr('-d', path.join(src, 'flagged', f));
    const l1 = path.join(work, 'l1.dump');
    await backup({ source: src, output: l1, level: 1, name: 'flags', stateDir: state, snapshot: 'off', now: () => new Date(NOW) });
    const want = flagMap(src);
    assert.equal(want['flagged'], FS_NODUMP_FL);
    assert.equal(want[path.join('flagged', 'new')], 0);

    // Into a nodump DEST, then the level 1 over it.
    const ours = path.join(work, 'ours');
    fs.mkdirSync(ours);
    chattr('+d', ours);
    assert.equal((await restore({ files: [l0], dest: ours })).exitStatus, 0);
    assert.equal((await restore({ files: [l1], dest: ours })).exitStatus, 0);
    assert.deepEqual(flagMap(ours), want);

    if (!haveProgram('restore')) return;
    const theirs = path.join(work, 'theirs');
    fs.mkdirSync(theirs);
    chattr('+d', theirs);
    for (const img of [l0, l1]) assert.equal(run('restore', ['-r', '-y', '-f', img], { cwd: theirs }).status, 0);
    assert.deepEqual(flagMap(theirs), want, 'Linux restore sets the flags exactly as well');
  });
});
