/**
 * The restore -t walk on hand-built images: the rules restore applies to names, and the
 * deliberate deviations for hostile directory structures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyHeader, encodeHeader } from '../../src/format/header.js';
import { encodeDirectory, type DirEntry } from '../../src/format/directory.js';
import { formatListing, listImage } from '../../src/read/list.js';
import { buildCatalog } from '../../src/read/catalog.js';
import { openTapeSource } from '../../src/tape/source.js';

process.env.TZ = 'UTC';

const DATE = 1700000000;

interface Obj { ino: number; mode: number; data?: Buffer; uid?: number }

/** TS_TAPE, TS_CLRI, TS_BITS (every object dumped), the objects, TS_END. */
function image(objects: Obj[], opts: { oldFormat?: boolean } = {}): Buffer {
  const blocks: Buffer[] = [];
  const flags = opts.oldFormat ? 0 : 2;
  const hdr = (type: number, ino: number, fill?: (h: ReturnType<typeof emptyHeader>) => void) => {
    const h = emptyHeader();
    Object.assign(h, { type, date: DATE, inumber: ino, flags, ntrec: 10, label: 'hand', host: 'h', dev: 'd', filesys: '/x', tapea: blocks.length });
    fill?.(h);
    const b = Buffer.alloc(1024);
    encodeHeader(h, b);
    blocks.push(b);
  };
  hdr(1, 0, (h) => { h.flags = flags | 1; h.count = 1; });
  const map = Buffer.alloc(1024);
  for (const o of objects) map[(o.ino - 1) >> 3]! |= 1 << ((o.ino - 1) & 7);
  hdr(6, 8191, (h) => { h.count = 1; h.inode.size = 1024; });
  blocks.push(map);
  hdr(3, 2, (h) => { h.count = 1; h.inode.size = 1024; });
  blocks.push(map);
  for (const o of objects) {
    const data = o.data ?? Buffer.alloc(0);
    const n = Math.ceil(data.length / 1024);
    hdr(2, o.ino, (h) => {
      h.inode.mode = o.mode;
      h.inode.size = data.length;
      h.inode.uid = o.uid ?? 0;
      h.inode.ouid = (o.uid ?? 0) & 0xffff;
      h.count = n;
      for (let i = 0; i < n; i++) h.addr[i] = 1;
    });
    for (let i = 0; i < n; i++) {
      const b = Buffer.alloc(1024);
      data.copy(b, 0, i * 1024, Math.min(data.length, i * 1024 + 1024));
      blocks.push(b);
    }
  }
  do hdr(5, 8191); while (blocks.length % 10 !== 0);
  return Buffer.concat(blocks);
}

const DIR = 0o40755;
const REG = 0o100644;
const e = (ino: number, name: string | Uint8Array, type = 8): DirEntry => ({ ino, type, name });

function mem(buf: Uint8Array) {
  return { name: 'hand', stream: (async function* () { yield buf; })() };
}

test('hostile directory structures are listed once and never loop', async () => {
  const long = 'q'.repeat(255);
  const root = encodeDirectory([
    e(2, '.', 4), e(2, '..', 4),
    e(3, long), // a correctly written 255-byte name (d_reclen 264)
    e(4, Buffer.from('a\0b')),
    e(5, 'sub', 4),
    e(5, 'again', 4),
    e(9000, 'beyond'), // ≥ maxino (8193): dropped like restore
    e(2, 'loop', 4),
  ]);
  const sub = encodeDirectory([e(2, '..', 4), e(6, 'x'), e(5, 'self', 4)]);
  const img = image([
    { ino: 2, mode: DIR, data: root }, { ino: 5, mode: DIR, data: sub },
    { ino: 3, mode: REG }, { ino: 4, mode: REG }, { ino: 6, mode: REG },
  ]);
  const r = await listImage({ files: [], inputs: [mem(img)] });
  assert.deepEqual(r.damage, []);
  assert.deepEqual(r.entries.map((x) => [x.ino, x.path]), [
    [2, '.'],
    // restore itself cannot show a 255-byte name (it re-packs the record with 8 bytes, §4.4);
    // when the name is intact on tape we show it.
    [3, `./${long}`],
    // names are C strings, as in restore
    [4, './a'],
    [5, './sub'],
    [6, './sub/x'],
    // restore would descend again (on ./sub/self and ./loop until paths reach 4,096 bytes); we list the name only
    [5, './sub/self'],
    [5, './again'],
    [2, './loop'],
  ]);
  assert.ok(r.warnings.some((w) => w.includes("`.' missing from directory ./sub")));
  assert.equal(r.warnings.filter((w) => /not descended again/.test(w)).length, 3);
});

test('paths longer than 4,096 bytes are skipped like restore', async () => {
  const name = 'd'.repeat(250);
  const objects: Obj[] = [];
  const depth = 18; // 18 × 251 > 4,096
  for (let i = 0; i < depth; i++) {
    const ino = 2 + i;
    const list = [e(ino, '.', 4), e(i === 0 ? 2 : ino - 1, '..', 4)];
    if (i < depth - 1) list.push(e(ino + 1, name, 4));
    objects.push({ ino, mode: DIR, data: encodeDirectory(list) });
  }
  const r = await listImage({ files: [], inputs: [mem(image(objects))] });
  const longest = Math.max(...r.entries.map((x) => x.rawPath.length));
  assert.ok(longest <= 4096);
  assert.equal(r.entries.length, 17);
  assert.ok(r.warnings.some((w) => /name exceeds 4096 char/.test(w)));
});

test('old inode format: 16-bit name lengths and 16-bit owners', async () => {
  const dir = encodeDirectory([e(2, '.', 4), e(2, '..', 4), e(3, 'file')]);
  // Old layout: the name length is a 16-bit field where d_type and d_namlen are now.
  for (let pos = 0; pos < 512;) {
    const reclen = dir.readUInt16LE(pos + 4);
    dir[pos + 6] = dir[pos + 7]!;
    dir[pos + 7] = 0;
    pos += reclen;
  }
  const img = image([{ ino: 2, mode: DIR, data: dir }, { ino: 3, mode: REG, uid: 70000 }], { oldFormat: true });
  const r = await listImage({ files: [], inputs: [mem(img)] });
  assert.equal(r.label.oldInodeFormat, true);
  assert.equal(formatListing(r).split('\n').slice(4).join('\n'), '         2\t.\n         3\t./file\n');
  const source = await openTapeSource([mem(img)]);
  try {
    const c = await buildCatalog(source);
    assert.equal(c.inode(3)?.uid, 70000 & 0xffff);
  } finally {
    await source.close();
  }
});

test('without a TS_BITS map, inodes seen on the tape count as dumped', async () => {
  const img = image([{ ino: 2, mode: DIR, data: encodeDirectory([e(2, '.', 4), e(2, '..', 4), e(3, 'f'), e(7, 'gone')]) }, { ino: 3, mode: REG }]);
  img[3 * 1024 + 100]! ^= 1; // break the TS_BITS header
  const r = await listImage({ files: [], inputs: [mem(img)] });
  assert.deepEqual(r.entries.map((x) => x.path), ['.', './f']);
  assert.deepEqual(r.damage.map((d) => d.offset), [3 * 1024]);
});
