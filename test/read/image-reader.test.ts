/**
 * The item stream of ImageReader: object data through TS_ADDR continuations, volume changes and
 * compression; holes; extension records; skipping.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openTapeSource } from '../../src/tape/source.js';
import { ImageReader, type ObjectItem, type ReadItem } from '../../src/read/image-reader.js';
import { buildCatalog } from '../../src/read/catalog.js';
import { decodeXattrs } from '../../src/format/xattr.js';

const SAMPLES = fileURLToPath(new URL('../../../../shared/samples/linux-dump-0.4b47/', import.meta.url));
const MV = ['001', '002', '003', '004', '005', '006'].map((n) => `${SAMPLES}mini-mv${n}`);

/** The "mini" tree of generate.sh. */
const TEXT = Buffer.from(Array.from({ length: 8000 }, (_, i) => `line ${String(i).padStart(6, '0')} of a compressible text file\n`).join(''));
const MINI: Record<string, Buffer> = {
  './text.txt': TEXT,
  './dir/a.txt': Buffer.from('hello\n'),
  './dir/odd.bin': Buffer.from('odd'),
  './dir/five-k.txt': TEXT.subarray(0, 5000),
  './link': Buffer.from('dir/a.txt'),
};

interface Read { items: ReadItem[]; data: Map<number, Buffer>; xattrs: Map<number, Buffer[]>; complete: Map<number, boolean> }

async function readAllData(files: string[]): Promise<Read> {
  const source = await openTapeSource(files);
  try {
    const out: Read = { items: [], data: new Map(), xattrs: new Map(), complete: new Map() };
    for await (const item of new ImageReader(source)) {
      out.items.push(item);
      if (item.kind === 'inode') {
        out.data.set(item.ino, await item.readAll());
        out.complete.set(item.ino, item.complete);
      } else if (item.kind === 'xattr') {
        const list = out.xattrs.get(item.ino) ?? [];
        list.push(await item.readAll());
        out.xattrs.set(item.ino, list);
      }
    }
    return out;
  } finally {
    await source.close();
  }
}

async function inodesByPath(files: string[]): Promise<Map<string, number>> {
  const source = await openTapeSource(files);
  try {
    const c = await buildCatalog(source);
    return new Map([...c.entries()].map((e) => [e.path.toString('utf8'), e.ino]));
  } finally {
    await source.close();
  }
}

const MINI_SETS: Record<string, string[]> = {
  'level0-z': [SAMPLES + 'level0-z.dump'],
  'level0-j': [SAMPLES + 'level0-j.dump'],
  'mini-b64': [SAMPLES + 'mini-b64.dump'],
  'mini-4k': [SAMPLES + 'mini-4k.dump'],
  'mini-mv': MV,
  'synthetic-le': [SAMPLES + 'synthetic-le.dump'],
  'synthetic-be': [SAMPLES + 'synthetic-be.dump'],
};

for (const [name, files] of Object.entries(MINI_SETS)) {
  test(`file contents of ${name}`, async () => {
    const paths = await inodesByPath(files);
    const r = await readAllData(files);
    for (const [path, content] of Object.entries(MINI)) {
      const ino = paths.get(path);
      assert.ok(ino, path);
      assert.deepEqual(r.data.get(ino), content, path);
      assert.equal(r.complete.get(ino), true, path);
    }
    assert.deepEqual(r.items.filter((i) => i.kind === 'damage'), []);
    assert.equal(r.items.at(-1)?.kind, 'end');
    assert.deepEqual(r.items.slice(0, 3).map((i) => i.kind), ['label', 'clri', 'bits']);
  });
}

test('multi-volume: one volume item per later volume, offsets are logical', async () => {
  const r = await readAllData(MV);
  const vols = r.items.filter((i) => i.kind === 'volume');
  assert.deepEqual(vols.map((v) => v.kind === 'volume' && v.volume), [2, 3, 4, 5, 6]);
  assert.deepEqual(vols.map((v) => v.offset / 1024), [60, 120, 180, 240, 300]);
  const end = r.items.at(-1)!;
  assert.equal(end.offset, 343 * 1024);
});

test('level0: holes, sparse files, symlinks and extended attributes', async () => {
  const files = [SAMPLES + 'level0.dump'];
  const paths = await inodesByPath(files);
  const r = await readAllData(files);
  const get = (p: string) => r.data.get(paths.get(p)!)!;
  assert.deepEqual(get('./small.txt'), Buffer.from('hello world\n'));
  assert.deepEqual(get('./exact1k.bin'), Buffer.alloc(1024, '0'));
  const sparse = get('./sparse.bin');
  assert.equal(sparse.length, 10 * 1024 * 1024);
  assert.equal(sparse.subarray(0, 4).toString(), 'HEAD');
  assert.equal(sparse.subarray(5000000, 5000006).toString(), 'MIDDLE');
  assert.equal(sparse.subarray(sparse.length - 3).toString(), 'END');
  assert.equal(sparse.subarray(4, 5000000).every((b) => b === 0), true);
  const tail = get('./tailhole.bin');
  assert.equal(tail.length, 2 * 1024 * 1024);
  assert.equal(tail.subarray(0, 4).toString(), 'data');
  assert.equal(tail.subarray(4).every((b) => b === 0), true);
  assert.equal(get('./link_long').toString(), 'd/'.repeat(60) + 'target');
  assert.equal(get('./random3m.bin').length, 3 * 1024 * 1024);
  const blobs = r.xattrs.get(paths.get('./small.txt')!)!;
  const attrs = blobs.flatMap((b) => decodeXattrs(b).attrs);
  assert.deepEqual(attrs.map((a) => [a.name, a.value.toString()]), [['user.comment', 'hello xattr']]);
});

test('data pieces are in order, views or holes, and can be abandoned midway', async () => {
  const source = await openTapeSource([SAMPLES + 'level0.dump']);
  try {
    let sawHole = false;
    for await (const item of new ImageReader(source)) {
      if (item.kind !== 'inode') continue;
      if (item.size !== 10 * 1024 * 1024) {
        // abandon most objects after the first piece: the reader must skip the rest correctly
        for await (const _ of item.data()) break;
        continue;
      }
      let next = 0;
      for await (const p of item.data()) {
        assert.equal(p.offset, next);
        next += p.data ? p.data.length : p.hole;
        if (p.hole) sawHole = true;
      }
      assert.equal(next, item.size);
    }
    assert.ok(sawHole);
  } finally {
    await source.close();
  }
});

test('object data cannot be read after the reader moved on', async () => {
  const source = await openTapeSource([SAMPLES + 'mini-4k.dump']);
  try {
    const objects: ObjectItem[] = [];
    for await (const item of new ImageReader(source)) if (item.kind === 'inode') objects.push(item);
    await assert.rejects(async () => { for await (const _ of objects[0]!.data()) { /* */ } }, { code: 'ERR_INTERNAL' });
  } finally {
    await source.close();
  }
});

/** Every object's pieces as [offset, bytes or hole length], through dataNow() where it serves (else data()) or data() only. */
type Part = { offset: number; data: Buffer } | { offset: number; hole: number };

/**
 * Every object's contents as [offset, bytes | hole], through dataNow() where it serves, data(),
 * or data({ ranges }) with each range read from the image file where it says. Adjacent data is
 * joined: ranges and chunks cut a run at different places, the bytes must be the same.
 */
async function piecesOf(files: string[], readSize: number, how: 'data' | 'now' | 'ranges'): Promise<{ list: string[]; viaNow: number; ranges: number; offsets: number[] }> {
  const source = await openTapeSource(files, { readSize });
  const list: string[] = [];
  const offsets: number[] = [];
  let viaNow = 0;
  let ranges = 0;
  try {
    const reader = new ImageReader(source);
    for await (const item of reader) {
      offsets.push(item.offset);
      if (item.kind !== 'inode' && item.kind !== 'xattr') continue;
      const sync = how === 'now' ? item.dataNow() : null;
      if (sync) viaNow++;
      const parts: Part[] = [];
      const add = (offset: number, data: Buffer) => {
        const last = parts[parts.length - 1];
        if (last && 'data' in last && last.offset + last.data.length === offset) last.data = Buffer.concat([last.data, data]);
        else parts.push({ offset, data });
      };
      for await (const p of sync ?? (how === 'ranges' ? item.data({ ranges: true }) : item.data())) {
        if (p.range) {
          ranges++;
          const b = Buffer.alloc(p.range.length);
          assert.equal(fs.readSync(p.range.fd, b, 0, b.length, p.range.position), b.length);
          add(p.offset, b);
        } else if (p.data) {
          add(p.offset, Buffer.from(p.data));
        } else {
          parts.push({ offset: p.offset, hole: p.hole });
        }
      }
      const shown = parts.map((x) => ('data' in x ? `${x.offset}:${x.data.toString('base64')}` : `${x.offset}:hole ${x.hole}`));
      list.push(`${item.kind} ${item.ino} complete=${item.complete} ${shown.join(' ')}`);
    }
    offsets.push(reader.offset);
  } finally {
    await source.close();
  }
  return { list, viaNow, ranges, offsets };
}

test('dataNow() and data({ ranges }) give exactly what data() gives, whatever the read size', async () => {
  let ranges = 0;
  for (const files of [[SAMPLES + 'level0.dump'], MV, [SAMPLES + 'synthetic-be.dump'], [SAMPLES + 'mini-b64.dump']]) {
    for (const readSize of [1024, 7 * 1024, 64 * 1024, 256 * 1024]) {
      const slow = await piecesOf(files, readSize, 'data');
      const fast = await piecesOf(files, readSize, 'now');
      assert.deepEqual(fast.list, slow.list, `${files[0]} read size ${readSize}`);
      if (readSize >= 64 * 1024) assert.ok(fast.viaNow > 0, 'small objects come whole from the chunk');
      const byRange = await piecesOf(files, readSize, 'ranges');
      assert.deepEqual(byRange.list, slow.list, `${files[0]} read size ${readSize}, ranges`);
      assert.deepEqual(byRange.offsets, slow.offsets, 'every item at the same offset');
      ranges += byRange.ranges;
    }
  }
  assert.ok(ranges > 0, 'long data runs came as file ranges');
});
