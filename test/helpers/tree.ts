/**
 * Test trees: building a source tree with every kind of entry a dump carries, taking a
 * snapshot of a tree's metadata and content, and listing every difference between two trees.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as sysx from '../../src/native/sysx.js';

export const isRoot = process.getuid?.() === 0;

// Backups record their history; a test run never writes into the machine's state directory.
if (!process.env.SNAPDUMP_STATE) {
  const state = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'snapdump-test-state-'));
  process.env.SNAPDUMP_STATE = state;
  process.on('exit', () => fs.rmSync(state, { recursive: true, force: true }));
}

export interface EntryInfo {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeNs: bigint;
  rdev: number;
  target?: string;
  hash?: string;
  xattrs: Record<string, string>;
  /** Allocated bytes (st_blocks × 512), to check holes stayed holes. */
  allocated: number;
  ino: bigint;
  nlink: number;
}

function typeOf(st: fs.BigIntStats): string {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'chr';
  if (st.isBlockDevice()) return 'blk';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  return 'unknown';
}

function hashFile(p: Buffer): string {
  const h = crypto.createHash('sha1');
  const fd = fs.openSync(p, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let n: number;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/** Every entry below `root` (not root itself unless includeRoot), keyed by relative path ('' is root). */
export function snapshotTree(root: string, opts: { includeRoot?: boolean; ignore?: (rel: string) => boolean } = {}): Map<string, EntryInfo> {
  const out = new Map<string, EntryInfo>();
  const walk = (rel: Buffer) => {
    const abs = rel.length ? Buffer.concat([Buffer.from(root + '/'), rel]) : Buffer.from(root);
    const st = fs.lstatSync(abs, { bigint: true });
    const relText = rel.toString('utf8');
    if (opts.ignore?.(relText)) return;
    const info: EntryInfo = {
      type: typeOf(st), mode: Number(st.mode) & 0o7777, uid: Number(st.uid), gid: Number(st.gid),
      size: st.isDirectory() ? 0 : Number(st.size), mtimeNs: st.mtimeNs, rdev: st.isCharacterDevice() || st.isBlockDevice() ? Number(st.rdev) : 0,
      xattrs: {}, allocated: Number(st.blocks) * 512, ino: st.ino, nlink: Number(st.nlink),
    };
    if (st.isSymbolicLink()) info.target = fs.readlinkSync(abs, { encoding: 'buffer' }).toString('hex');
    if (st.isFile()) info.hash = hashFile(abs);
    for (const name of sysx.listXattrs(abs).sort()) info.xattrs[name] = sysx.getXattr(abs, name).toString('hex');
    if (rel.length || opts.includeRoot) out.set(relText, info);
    if (st.isDirectory()) {
      for (const name of fs.readdirSync(abs, { encoding: 'buffer' }).sort(Buffer.compare)) {
        walk(rel.length ? Buffer.concat([rel, Buffer.from('/'), name]) : name);
      }
    }
  };
  walk(Buffer.alloc(0));
  return out;
}

export interface CompareOptions {
  /** Compare mtimes to this many nanoseconds (1000 = microseconds). */
  mtimeResolutionNs?: bigint;
  /** Directory mtimes are compared too unless false. */
  directoryTimes?: boolean;
  /** Skip these fields. */
  ignore?: Array<keyof EntryInfo>;
}

/** Hard-link groups: sets of paths sharing an inode, as sorted lists. */
export function linkGroups(tree: Map<string, EntryInfo>): string[] {
  const byIno = new Map<bigint, string[]>();
  for (const [p, e] of tree) {
    if (e.type === 'dir') continue;
    const g = byIno.get(e.ino) ?? [];
    g.push(p);
    byIno.set(e.ino, g);
  }
  return [...byIno.values()].filter((g) => g.length > 1).map((g) => g.sort().join(' | ')).sort();
}

export function compareTrees(expected: Map<string, EntryInfo>, actual: Map<string, EntryInfo>, opts: CompareOptions = {}): string[] {
  const diffs: string[] = [];
  const res = opts.mtimeResolutionNs ?? 1n;
  const ignore = new Set(opts.ignore ?? []);
  for (const [p, e] of expected) {
    const a = actual.get(p);
    if (!a) { diffs.push(`missing: ${JSON.stringify(p)}`); continue; }
    const check = (field: keyof EntryInfo, x: unknown, y: unknown) => {
      if (!ignore.has(field) && JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) !== JSON.stringify(y, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))) {
        diffs.push(`${field} differs: ${JSON.stringify(p)}: expected ${String(typeof x === 'object' ? JSON.stringify(x) : x)} got ${String(typeof y === 'object' ? JSON.stringify(y) : y)}`);
      }
    };
    check('type', e.type, a.type);
    if (e.type !== a.type) continue;
    if (e.type !== 'symlink') check('mode', e.mode.toString(8), a.mode.toString(8));
    check('uid', e.uid, a.uid);
    check('gid', e.gid, a.gid);
    if (e.type !== 'dir') check('size', e.size, a.size);
    if (e.type !== 'symlink' && (e.type !== 'dir' || opts.directoryTimes !== false)) check('mtimeNs', e.mtimeNs / res, a.mtimeNs / res);
    check('rdev', e.rdev, a.rdev);
    check('target', e.target, a.target);
    check('hash', e.hash, a.hash);
    check('xattrs', e.xattrs, a.xattrs);
    if (e.type === 'file' && !ignore.has('allocated') && e.allocated < e.size && a.allocated > e.allocated + 64 * 1024) {
      diffs.push(`holes lost: ${JSON.stringify(p)}: source allocates ${e.allocated} bytes, restored ${a.allocated}`);
    }
  }
  for (const p of actual.keys()) if (!expected.has(p)) diffs.push(`extra: ${JSON.stringify(p)}`);
  const ge = linkGroups(expected);
  const ga = linkGroups(actual);
  if (JSON.stringify(ge) !== JSON.stringify(ga)) diffs.push(`hard-link groups differ: expected ${JSON.stringify(ge)} got ${JSON.stringify(ga)}`);
  return diffs;
}

function setTimes(p: string, mtimeSec: number, mtimeNsec: number, atimeSec = mtimeSec): void {
  sysx.lutimesNs(p, atimeSec, 0, mtimeSec, mtimeNsec);
}

/** A deterministic pseudo-random buffer (no crypto needed, reproducible across runs). */
export function pseudoRandom(bytes: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < bytes; i += 4) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    if (i + 4 <= bytes) out.writeUInt32LE(x, i); else for (let j = i; j < bytes; j++) out[j] = (x >>> (8 * (j - i))) & 0xff;
  }
  return out;
}

/**
 * Builds a tree with every kind of entry Linux dump carries (see the list). Needs root
 * for owners and device nodes. Returns notes about what it made.
 */
export function buildFullTree(root: string): void {
  fs.mkdirSync(root, { recursive: true });
  const p = (rel: string) => path.join(root, rel);
  fs.writeFileSync(p('small.txt'), 'hello world\n');
  fs.writeFileSync(p('empty'), '');
  fs.writeFileSync(p('exact1k.bin'), pseudoRandom(1024, 1));
  fs.writeFileSync(p('exact3k.bin'), pseudoRandom(3072, 2));
  fs.writeFileSync(p('odd5000.bin'), pseudoRandom(5000, 3));
  fs.writeFileSync(p('big-1m-plus.bin'), pseudoRandom((1 << 20) * 2 + 12345, 4));
  fs.writeFileSync(p('exact512k.bin'), pseudoRandom(512 * 1024, 5));
  // Sparse: data, a hole, data in the middle, a hole, data at the end.
  const sparse = fs.openSync(p('sparse.bin'), 'w');
  fs.writeSync(sparse, 'HEAD', 0);
  fs.writeSync(sparse, 'MIDDLE', 5_000_000);
  fs.writeSync(sparse, 'END', 10 * 1024 * 1024 - 3);
  fs.closeSync(sparse);
  const tail = fs.openSync(p('tailhole.bin'), 'w');
  fs.writeSync(tail, 'data', 0);
  fs.ftruncateSync(tail, 2 * 1024 * 1024);
  fs.closeSync(tail);
  fs.writeFileSync(p('all-hole.bin'), '');
  fs.truncateSync(p('all-hole.bin'), 3 * 1024 * 1024);
  // Symlinks: short, long (beyond the ext4 inline 60 bytes), dangling, to a directory.
  fs.symlinkSync('small.txt', p('link_short'));
  fs.symlinkSync('d/'.repeat(200) + 'target', p('link_long'));
  fs.symlinkSync('/nonexistent/absolute', p('link_dangling_abs'));
  fs.mkdirSync(p('sub/deeper'), { recursive: true });
  fs.symlinkSync('sub', p('link_dir'));
  // Hard links across directories.
  fs.linkSync(p('small.txt'), p('hardlink_a'));
  fs.linkSync(p('small.txt'), p('sub/hardlink_b'));
  fs.writeFileSync(p('sub/deeper/nested.txt'), 'nested\n');
  fs.writeFileSync(p('sub/deeper/other'), 'other\n');
  fs.linkSync(p('sub/deeper/other'), p('sub/other-link'));
  // Special files.
  fs.mkdirSync(p('specials'));
  sysx.mknod(p('specials/fifo1'), 0o010644, 0);
  sysx.mknod(p('specials/sock1'), 0o140755, 0);
  if (isRoot) {
    sysx.mknod(p('specials/chr_null'), 0o020666, sysx.makedev(1, 3));
    sysx.mknod(p('specials/blk_loop'), 0o060660, sysx.makedev(7, 200));
    sysx.mknod(p('specials/chr_big'), 0o020600, sysx.makedev(300, 70000));
  }
  // Odd names.
  fs.mkdirSync(p('names'));
  for (const name of ['with space', 'new\nline', 'café-€.txt', '-leading-dash', '--', 'tab\there', 'quote"\'', 'back\\slash', 'n'.repeat(254), '日本語のファイル名']) {
    fs.writeFileSync(p(`names/${name}`), `name ${name.length}\n`);
  }
  fs.writeFileSync(Buffer.from(`${root}/names/bad-utf8-\xff\xfe`, 'latin1'), 'not utf-8\n');
  // A directory with many entries (spans several 512-byte chunks and several headers).
  fs.mkdirSync(p('bigdir'));
  for (let i = 0; i < 600; i++) fs.writeFileSync(p(`bigdir/f${String(i).padStart(4, '0')}`), i % 7 === 0 ? `x${i}` : '');
  fs.mkdirSync(p('emptydir'));
  // Modes, owners, xattrs, ACLs.
  fs.writeFileSync(p('modes-4755'), '#!/bin/sh\n');
  fs.chmodSync(p('modes-4755'), 0o4755);
  fs.writeFileSync(p('modes-2640'), 'g\n');
  fs.chmodSync(p('modes-2640'), 0o2640);
  fs.mkdirSync(p('sticky'));
  fs.chmodSync(p('sticky'), 0o1777);
  fs.writeFileSync(p('mode-000'), 'locked\n');
  fs.chmodSync(p('mode-000'), 0o000);
  fs.mkdirSync(p('dir-700'));
  fs.chmodSync(p('dir-700'), 0o700);
  if (isRoot) {
    fs.writeFileSync(p('owner_big.txt'), 'owner\n');
    fs.chownSync(p('owner_big.txt'), 70000, 70001);
    fs.chownSync(p('sub'), 1234, 5678);
    fs.lchownSync(p('link_short'), 4321, 8765);
  }
  sysx.setXattr(p('small.txt'), 'user.comment', Buffer.from('hello xattr'));
  fs.writeFileSync(p('xattr_many.txt'), 'many\n');
  for (let i = 0; i < 20; i++) sysx.setXattr(p('xattr_many.txt'), `user.attr${i}`, Buffer.from(`value-${i}-`.repeat(i + 1)));
  sysx.setXattr(p('xattr_many.txt'), 'user.binary', Buffer.from([0, 1, 2, 255, 0, 7]));
  sysx.setXattr(p('xattr_many.txt'), 'user.empty', Buffer.alloc(0));
  if (isRoot) sysx.setXattr(p('xattr_many.txt'), 'trusted.secret', Buffer.from('root only'));
  sysx.setXattr(p('sub'), 'user.dirattr', Buffer.from('on a directory'));
  fs.writeFileSync(p('acl.txt'), 'acl\n');
  setfacl(['-m', 'u:1000:rw-,g:100:r--', p('acl.txt')]);
  fs.mkdirSync(p('acldir'));
  setfacl(['-d', '-m', 'u:1000:rwx', p('acldir')]);
  setfacl(['-m', 'g:100:r-x', p('acldir')]);
  fs.writeFileSync(p('acldir/inherited.txt'), 'inherits the default ACL\n');
  // Times (seconds and microseconds; nanoseconds beyond µs are a later issue).
  fs.writeFileSync(p('times.txt'), 'times\n');
  setTimes(p('times.txt'), 981173106, 123456000, 1015045567);
  fs.writeFileSync(p('y2040.txt'), 'future\n');
  setTimes(p('y2040.txt'), 2208988800, 0);
  // Directory times last: creating entries above changed them.
  setTimes(p('sub/deeper'), 1000000000, 0);
  setTimes(p('emptydir'), 1100000000, 500000000);
}

import { execFileSync } from 'node:child_process';
function setfacl(args: string[]): void {
  execFileSync('setfacl', args);
}

/** Runs a command, returning exit status and output, never throwing on a non-zero exit. */
export function run(cmd: string, args: string[], opts: { cwd?: string; input?: string | Buffer; env?: NodeJS.ProcessEnv } = {}): { status: number; stdout: Buffer; stderr: string } {
  try {
    const stdout = execFileSync(cmd, args, { cwd: opts.cwd, input: opts.input, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 256 << 20 });
    return { status: 0, stdout, stderr: '' };
  } catch (e) {
    const err = e as { status?: number; stdout?: Buffer; stderr?: Buffer };
    return { status: err.status ?? -1, stdout: err.stdout ?? Buffer.alloc(0), stderr: err.stderr?.toString() ?? '' };
  }
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(process.env.SNAPDUMP_TEST_TMP ?? '/var/tmp', `snapdump-${prefix}-`));
}

export function removeTree(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Whether a program is on PATH; in CI a missing interop tool is an error, never a skip. */
export function haveProgram(name: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    if (fs.existsSync(path.join(dir, name))) return true;
  }
  if (process.env.CI) throw new Error(`${name} is required in CI (the test command installs it)`);
  return false;
}
