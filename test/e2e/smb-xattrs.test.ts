/**
 * SMB metadata as Samba keeps it on Linux (user.DOSATTRIB, security.NTACL, user.DosStream.*),
 * other namespaces (trusted, security), 64 KiB values and ACLs with 1,024 entries round-trip
 * through backup and snapdump restore, and verify finds no difference.
 *
 * The file system: ext4 with `-O ea_inode` on a loop device, the one that holds all of it. Plain
 * ext4 limits all attributes of an inode to one block (4 KiB: neither a 64 KiB stream nor a
 * 1,024-entry ACL of 8 KiB fits); btrfs takes the ACL but no value beyond its leaf (about
 * 16 KiB); tmpfs takes both. Linux restore 0.4b47 skips every EA record larger than 4 KiB
 * (XATTR_MAXSIZE), so it restores the small attributes and drops the large ones (tested below).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as sysx from '../../src/native/sysx.js';
import { backup } from '../../src/backup.js';
import { restore } from '../../src/restore/index.js';
import { verify } from '../../src/verify/index.js';
import { haveProgram, isRoot, pseudoRandom, removeTree, run, tempDir } from '../helpers/tree.js';

const canMount = isRoot && haveProgram('mke2fs') && haveProgram('losetup') && haveProgram('setfacl');

/** Samba's DOSATTRIB v4 (NDR): version, level, valid flags, FILE_ATTRIBUTE_ARCHIVE, itime, create time. */
function dosAttrib(createNt: bigint): Buffer {
  const b = Buffer.alloc(32);
  b.writeUInt16LE(4, 0); b.writeUInt16LE(4, 2);
  b.writeUInt32LE(0x11, 4); b.writeUInt32LE(0x20, 8);
  b.writeBigUInt64LE(createNt, 12); b.writeBigUInt64LE(createNt, 20);
  return Buffer.concat([Buffer.from('0x20\0'), b]);
}

/** setfacl spec with `n` named users. */
function manyUsers(n: number, perm = 'r'): string {
  return Array.from({ length: n }, (_, i) => `u:${20000 + i}:${perm}`).join(',');
}

function allXattrs(p: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of sysx.listXattrs(p).sort()) out[n] = sysx.getXattr(p, n).toString('hex');
  return out;
}

describe('SMB metadata and large xattrs round-trip', { skip: !canMount && 'needs root, mke2fs, losetup, setfacl' }, () => {
  let work: string;
  let mnt: string;
  let loop = '';
  let src: string;
  let image: string;
  const p = (rel: string) => path.join(src, rel);
  const expected = new Map<string, Record<string, string>>();

  before(async () => {
    work = tempDir('smb');
    mnt = path.join(work, 'mnt');
    fs.mkdirSync(mnt);
    const img = path.join(work, 'fs.img');
    fs.writeFileSync(img, '');
    fs.truncateSync(img, 128 << 20);
    assert.equal(run('mke2fs', ['-q', '-t', 'ext4', '-O', 'ea_inode', img]).status, 0);
    const l = run('losetup', ['-f', '--show', img]);
    assert.equal(l.status, 0, l.stderr);
    loop = l.stdout.toString().trim();
    const m = run('mount', ['-t', 'ext4', loop, mnt]);
    if (m.status !== 0) { run('losetup', ['-d', loop]); loop = ''; assert.fail(m.stderr); }
    src = path.join(mnt, 'share');
    image = path.join(work, 'share.dump');
    fs.mkdirSync(p('folder'), { recursive: true });
    fs.writeFileSync(p('folder/doc.docx'), pseudoRandom(9000, 1));
    fs.writeFileSync(p('streams.txt'), 'main stream\n');
    fs.writeFileSync(p('acl1024.txt'), 'many users\n');
    fs.writeFileSync(p('many.txt'), 'many attributes\n');
    fs.symlinkSync('folder/doc.docx', p('shortcut'));
    const set = (rel: string, name: string, value: Buffer) => sysx.setXattr(p(rel), name, value);
    set('folder/doc.docx', 'user.DOSATTRIB', dosAttrib(133_000_000_000_000_000n));
    set('folder/doc.docx', 'security.NTACL', pseudoRandom(180, 2));
    set('folder', 'user.DOSATTRIB', dosAttrib(132_000_000_000_000_000n));
    set('folder', 'security.NTACL', pseudoRandom(400, 3));
    set('folder', 'user.DosStream.dirstream:$DATA', Buffer.concat([pseudoRandom(65535, 4), Buffer.from([0])]));
    set('streams.txt', 'user.DosStream.Zone.Identifier:$DATA', Buffer.from('[ZoneTransfer]\r\nZoneId=3\r\n\0'));
    // Samba's streams_xattr stores a stream's bytes plus a NUL: 65,535 + 1 = the 64 KiB limit.
    set('streams.txt', 'user.DosStream.big:$DATA', Buffer.concat([pseudoRandom(65535, 5), Buffer.from([0])]));
    set('streams.txt', 'trusted.overlay.origin', Buffer.from([0, 0xfb, 0x21, 0x00, 0x01]));
    set('streams.txt', 'security.NTACL', pseudoRandom(8000, 6));
    set('shortcut', 'trusted.link-note', Buffer.from('xattr on a symlink itself'));
    // As many small attributes as one ext4 block holds (values above ~4 KiB go to EA inodes).
    for (let i = 0; i < 12; i++) set('many.txt', `user.attr${String(i).padStart(2, '0')}`, pseudoRandom(250 + i, 100 + i));
    assert.equal(run('setfacl', ['-m', manyUsers(1024), p('acl1024.txt')]).status, 0);
    assert.equal(run('setfacl', ['-d', '-m', manyUsers(1024, 'rw'), p('folder')]).status, 0);
    for (const rel of ['folder', 'folder/doc.docx', 'streams.txt', 'acl1024.txt', 'many.txt', 'shortcut']) expected.set(rel, allXattrs(p(rel)));
    const s = await backup({ source: src, output: image, level: 0, update: false });
    assert.equal(s.exitStatus, 0, JSON.stringify(s.skipped));
    assert.ok(s.warnings.some((w) => w.code === 'XATTR_LARGE'), 'large attributes are named as beyond Linux restore');
  });
  after(() => {
    if (loop) { run('umount', [mnt]); run('losetup', ['-d', loop]); }
    removeTree(work);
  });

  it('the source really has them: 1,024 named users, 64 KiB values', () => {
    const acl = run('getfacl', ['-n', p('acl1024.txt')]).stdout.toString();
    assert.equal(acl.split('\n').filter((l) => /^user:\d+:/.test(l)).length, 1024);
    assert.equal(sysx.getXattr(p('streams.txt'), 'user.DosStream.big:$DATA').length, 65536);
  });

  it('snapdump restore brings back every attribute byte for byte; verify finds no difference', async () => {
    const dest = path.join(mnt, 'restored');
    const r = await restore({ files: [image], dest });
    assert.equal(r.exitStatus, 0, JSON.stringify([...r.skipped, ...r.warnings]));
    assert.deepEqual(r.warnings, []);
    for (const [rel, want] of expected) assert.deepEqual(allXattrs(path.join(dest, rel)), want, rel);
    const acl = run('getfacl', ['-n', path.join(dest, 'acl1024.txt')]).stdout.toString();
    assert.equal(acl.split('\n').filter((l) => /^user:\d+:/.test(l)).length, 1024);
    const v = await verify({ files: [image], dir: dest });
    assert.deepEqual(v.differences.filter((d) => d.path !== '.' && !d.path.startsWith('./.snapdump')), []);
    const vs = await verify({ files: [image], dir: src });
    assert.deepEqual(vs.differences, [], 'and none against the source');
  });

  it('the real restore -r applies the attributes that fit 4 KiB and skips the larger ones', { skip: !haveProgram('restore') && 'needs Linux restore' }, () => {
    const dest = path.join(mnt, 'linux');
    fs.mkdirSync(dest);
    const r = run('restore', ['-r', '-y', '-T', work, '-f', image], { cwd: dest });
    assert.equal(r.status, 0, r.stderr);
    // Every object is there: an oversized EA record is followed by a padding record, because
    // Linux restore skips one record too many after it (src/format/xattr.ts, EA_PADDING_BLOCK).
    assert.deepEqual(fs.readdirSync(dest).filter((n) => n !== 'restoresymtable').sort(), fs.readdirSync(src).sort());
    const folder = allXattrs(path.join(dest, 'folder'));
    assert.equal(folder['user.DOSATTRIB'], expected.get('folder')!['user.DOSATTRIB'], 'a directory keeps its small attributes (they come before the large ones)');
    assert.equal(folder['security.NTACL'], expected.get('folder')!['security.NTACL']);
    assert.equal(folder['user.DosStream.dirstream:$DATA'], undefined);
    const doc = allXattrs(path.join(dest, 'folder/doc.docx'));
    assert.deepEqual(doc, expected.get('folder/doc.docx'), 'DOSATTRIB and NTACL of an ordinary file');
    assert.deepEqual(allXattrs(path.join(dest, 'many.txt')), expected.get('many.txt'), 'a dozen small attributes');
    const streams = allXattrs(path.join(dest, 'streams.txt'));
    assert.equal(streams['user.DosStream.Zone.Identifier:$DATA'], expected.get('streams.txt')!['user.DosStream.Zone.Identifier:$DATA']);
    assert.equal(streams['user.DosStream.big:$DATA'], undefined, '64 KiB: skipped by Linux restore');
    assert.equal(allXattrs(path.join(dest, 'acl1024.txt'))['system.posix_acl_access'], undefined, '8 KiB ACL: skipped by Linux restore');
  });

  it('the real restore -C reports the objects with attributes beyond 4 KiB, and only those', { skip: !haveProgram('restore') && 'needs Linux restore' }, () => {
    const c = run('restore', ['-C', '-f', image, '-D', src]);
    assert.equal(c.status, 2);
    const text = c.stdout.toString() + c.stderr;
    assert.match(text, /EA size too big/);
    const named = new Set([...text.matchAll(/\.\/([\w./-]+): /g)].map((m) => m[1]));
    assert.deepEqual([...named].sort(), ['acl1024.txt', 'streams.txt'], text);
  });
});
