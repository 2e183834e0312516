/** walkDir: one directory listed, sorted and stat'ed in one native call, as the walk does it. */
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as sysx from '../../src/native/sysx.js';
import { STAT_FIELDS } from '../../src/native/sysx.js';
import { readInodeFlags } from '../../src/stages/xattr-emit.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapdump-walkdir-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const COLS = STAT_FIELDS + 3;

function names(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let s = 0; s < buf.length;) { const e = buf.indexOf(0, s); out.push(buf.subarray(s, e)); s = e + 1; }
  return out;
}

it('lists names in byte order with the stat fields of lstat, raw names flagged', () => {
  const d = path.join(dir, 'a');
  fs.mkdirSync(d);
  fs.writeFileSync(path.join(d, 'file'), 'x'.repeat(1234));
  fs.symlinkSync('file', path.join(d, 'link'));
  fs.mkdirSync(path.join(d, 'Sub'));
  fs.writeFileSync(path.join(d, 'é'), '');
  fs.writeFileSync(path.join(d, '\u{1F600}'), ''); // 4 bytes: sorts after U+FFxx in bytes
  fs.writeFileSync(path.join(d, '\uFFFD'), ''); // valid UTF-8, but a string cannot tell it from a bad byte
  const bad = Buffer.from([0x66, 0xff, 0x66]); // not UTF-8
  const surrogate = Buffer.from([0x67, 0xed, 0xa0, 0x80]); // an encoded surrogate: not UTF-8
  for (const b of [bad, surrogate]) fs.writeFileSync(Buffer.concat([Buffer.from(d + '/'), b]), 'y');
  const w = sysx.walkDir(d, true, true);
  const got = names(w.names);
  const want = fs.readdirSync(d, { encoding: 'buffer' }).sort(Buffer.compare);
  assert.deepEqual(got.map((b) => b.toString('hex')), want.map((b) => b.toString('hex')));
  assert.deepEqual([...w.starts], got.map((_, i) => got.slice(0, i).reduce((s, b) => s + b.length + 1, 0)));
  assert.equal(w.rows.length, got.length * COLS);
  assert.deepEqual([...w.errors], got.map(() => 0));
  const rawNames = [...w.raw].map((i) => got[i]!.toString('hex')).sort();
  assert.deepEqual(rawNames, [bad, surrogate, Buffer.from('\uFFFD')].map((b) => b.toString('hex')).sort());
  const one = new Float64Array(STAT_FIELDS);
  got.forEach((n, i) => {
    const p = Buffer.concat([Buffer.from(d + '/'), n]);
    sysx.lstatInto(p, one);
    const o = i * COLS;
    assert.deepEqual([...w.rows.subarray(o, o + STAT_FIELDS)], [...one], n.toString());
    assert.equal(w.rows[o + STAT_FIELDS], 1, 'readable');
    const birth = sysx.statxBirth(p);
    assert.deepEqual([w.rows[o + STAT_FIELDS + 1], w.rows[o + STAT_FIELDS + 2]], birth ? [birth.sec, birth.nsec] : [0, -1]);
  });
  const noBirth = sysx.walkDir(d, false, false);
  for (let i = 0; i < got.length; i++) assert.deepEqual([noBirth.rows[i * COLS + STAT_FIELDS + 1], noBirth.rows[i * COLS + STAT_FIELDS + 2]], [0, -1]);
});

it('an empty directory, and a directory it cannot read, throw like readdir', () => {
  const e = path.join(dir, 'empty');
  fs.mkdirSync(e);
  const w = sysx.walkDir(e, true, false);
  assert.deepEqual([w.names.length, w.rows.length, w.errors.length, w.raw.length], [0, 0, 0, 0]);
  assert.throws(() => sysx.walkDir(path.join(dir, 'nope'), true, false), { code: 'ENOENT', message: /scandir '.*nope'/ });
  assert.throws(() => sysx.walkDir(path.join(dir, 'a', 'file'), true, false), { code: 'ENOTDIR' });
});

it('reports a regular file it cannot read (checkAccess, not as root)', { skip: process.getuid?.() === 0 ? 'root reads everything' : false }, () => {
  const d = path.join(dir, 'acc');
  fs.mkdirSync(d);
  fs.writeFileSync(path.join(d, 'secret'), 's');
  fs.chmodSync(path.join(d, 'secret'), 0);
  const w = sysx.walkDir(d, false, true);
  assert.equal(w.rows[STAT_FIELDS], 0);
  assert.equal(sysx.walkDir(d, false, false).rows[STAT_FIELDS], 1);
});

/** chattr, or the reason the file system under the tests cannot take it. */
function chattr(flags: string, p: string): string | null {
  try {
    execFileSync('chattr', [flags, p], { stdio: 'pipe' });
    return null;
  } catch (e) {
    return `chattr ${flags} not supported here: ${(e as Error).message}`;
  }
}

it("returns the directory's own inode flags and the size of its xattr name list", (t) => {
  const plain = path.join(dir, 'plain');
  const flagged = path.join(dir, 'flagged');
  const withEa = path.join(dir, 'with-ea');
  for (const d of [plain, flagged, withEa]) fs.mkdirSync(d);
  fs.writeFileSync(path.join(flagged, 'f'), '');
  const why = chattr('+dA', flagged);
  if (why) return t.skip(why);
  sysx.setXattr(withEa, 'user.x', Buffer.from('1'));
  sysx.setXattr(withEa, 'user.longer-name', Buffer.from('2'));
  const FS_NODUMP_FL = 0x40, FS_NOATIME_FL = 0x80;
  const f = sysx.walkDir(flagged, false, false);
  assert.equal(f.flags, readInodeFlags(flagged, true));
  assert.equal(f.flags & (FS_NODUMP_FL | FS_NOATIME_FL), FS_NODUMP_FL | FS_NOATIME_FL);
  assert.equal(f.errors.length, 1, 'still listed');
  const p = sysx.walkDir(plain, false, false);
  assert.equal(p.flags, readInodeFlags(plain, true));
  assert.equal(p.flags & (FS_NODUMP_FL | FS_NOATIME_FL), 0);
  assert.equal(p.xattrBytes, 0);
  const e = sysx.walkDir(withEa, false, false);
  assert.equal(e.xattrBytes, Buffer.byteLength('user.x\0user.longer-name\0'));
});

it('does not follow a directory that is a symbolic link', () => {
  const real = path.join(dir, 'real-dir');
  const link = path.join(dir, 'link-dir');
  fs.mkdirSync(real);
  fs.writeFileSync(path.join(real, 'inside'), '');
  fs.symlinkSync(real, link);
  assert.throws(() => sysx.walkDir(link, false, false), (e: NodeJS.ErrnoException) => e.code === 'ELOOP' || e.code === 'ENOTDIR');
  assert.equal(sysx.walkDir(real, false, false).errors.length, 1);
});
