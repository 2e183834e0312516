/**
 * Compressed framing in both byte orders (§8), built from the synthetic samples the way dump -z
 * writes it: first record raw, then 4-byte-prefixed records, some stored uncompressed. Also the
 * label lines restore prints in less common cases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { formatListing, listImage, type ListResult } from '../../src/read/list.js';
import { openTapeSource, type TapeInput } from '../../src/tape/source.js';
import { ImageReader } from '../../src/read/image-reader.js';
import { checksumOk, detectByteOrder } from '../../src/format/header.js';

process.env.TZ = 'UTC';

const SAMPLES = fileURLToPath(new URL('../../../../shared/samples/linux-dump-0.4b47/', import.meta.url));
const CHECKSUM = 84446;
const NTREC = 10;

function mem(buf: Uint8Array, name = 'image'): TapeInput {
  return { name, stream: (async function* () { yield buf; })() };
}

function fixChecksum(buf: Buffer, off: number, le: boolean): void {
  buf.writeUInt32LE(0, off + 28);
  let sum = 0;
  for (let i = 0; i < 1024; i += 4) sum = (sum + (le ? buf.readUInt32LE(off + i) : buf.readUInt32BE(off + i))) >>> 0;
  const c = (CHECKSUM - sum) >>> 0;
  if (le) buf.writeUInt32LE(c, off + 28); else buf.writeUInt32BE(c, off + 28);
}

/** Patches every header of an uncompressed image, keeping checksums valid. */
function patchHeaders(img: Buffer, edit: (buf: Buffer, off: number, le: boolean) => void): Buffer {
  const buf = Buffer.from(img);
  const le = detectByteOrder(buf, 0) === 'le';
  for (let off = 0; off + 1024 <= buf.length; off += 1024) {
    if (detectByteOrder(buf, off) !== null && checksumOk(buf, off, le ? 'le' : 'be')) {
      edit(buf, off, le);
      fixChecksum(buf, off, le);
    }
  }
  return buf;
}

/** dump -z framing: DR_COMPRESSED on every header, first record raw, every storeEvery-th record stored. */
function compress(img: Buffer, storeEvery: number): Buffer {
  const buf = patchHeaders(img, (b, off, le) => {
    if (le) b.writeInt32LE(b.readInt32LE(off + 888) | 0x80, off + 888); else b.writeInt32BE(b.readInt32BE(off + 888) | 0x80, off + 888);
  });
  const le = detectByteOrder(buf, 0) === 'le';
  const rec = NTREC * 1024;
  const parts: Buffer[] = [buf.subarray(0, rec)];
  for (let off = rec, k = 1; off < buf.length; off += rec, k++) {
    const raw = buf.subarray(off, off + rec);
    const stored = k % storeEvery === 0;
    const payload = stored ? raw : deflateSync(raw);
    const c = stored ? 0 : 1;
    const word = le ? ((payload.length << 4) | c) >>> 0 : ((c << 31) | payload.length) >>> 0;
    const prefix = Buffer.alloc(4);
    if (le) prefix.writeUInt32LE(word); else prefix.writeUInt32BE(word);
    parts.push(prefix, payload);
  }
  return Buffer.concat(parts);
}

async function digests(input: TapeInput): Promise<string[]> {
  const source = await openTapeSource([input]);
  try {
    const out: string[] = [];
    for await (const item of new ImageReader(source)) {
      if (item.kind !== 'inode' && item.kind !== 'xattr') continue;
      const h = createHash('sha256');
      for await (const p of item.data()) h.update(p.data ?? Buffer.alloc(p.hole));
      out.push(`${item.ino} ${h.digest('hex')}`);
    }
    return out;
  } finally {
    await source.close();
  }
}

for (const order of ['le', 'be']) {
  test(`zlib-compressed ${order} image lists and reads like the uncompressed one`, async () => {
    const img = readFileSync(`${SAMPLES}synthetic-${order}.dump`);
    const z = compress(img, 3);
    assert.ok(z.length < img.length / 2);
    const r = await listImage({ files: [], inputs: [mem(z)] });
    assert.equal(formatListing(r), 'Dump tape is compressed.\n' + readFileSync(`${SAMPLES}synthetic-${order}.listing`, 'utf8'));
    assert.deepEqual(r.damage, []);
    assert.equal(r.label.compression, 'zlib');
    assert.equal(r.label.byteOrder, order);
    assert.deepEqual(await digests(mem(z)), await digests(mem(img)));
  });
}

test('a corrupt compressed record is damage; the rest is still read', async () => {
  const img = readFileSync(SAMPLES + 'synthetic-le.dump');
  const z = compress(img, 1000);
  // Garble the payload of the third record (after the raw first record and two prefixed ones).
  let off = NTREC * 1024;
  for (let k = 0; k < 2; k++) off += 4 + (z.readUInt32LE(off) >>> 4);
  z[off + 4 + 10]! ^= 0xff;
  z[off + 4 + 11]! ^= 0xff;
  const r = await listImage({ files: [], inputs: [mem(z)] });
  assert.ok(r.damage.some((d) => /record does not decompress/.test(d.message) && d.offset === 30 * 1024), JSON.stringify(r.damage));
  assert.equal(r.entries.at(-1)?.path, './text.txt');
});

test('an image that starts after its volume header still lists, with damage at byte 0', async () => {
  const img = readFileSync(SAMPLES + 'mini-4k.dump');
  const r = await listImage({ files: [], inputs: [mem(img.subarray(1024))] });
  assert.equal(formatListing(r), readFileSync(SAMPLES + 'mini-4k.listing', 'utf8'));
  assert.deepEqual(r.damage.map((d) => d.offset), [0]);
  assert.match(r.damage[0]!.message, /instead of a volume header/);
});

test('DR_INODEINFO volume table is printed like restore when it starts with inode 2', async () => {
  const img = readFileSync(SAMPLES + 'mini-4k.dump');
  const patched = Buffer.from(img);
  patched.writeUInt32LE(2, 164 + 4);
  patched.writeUInt32LE(17, 164 + 8);
  fixChecksum(patched, 0, true);
  const r = await listImage({ files: [], inputs: [mem(patched)] });
  const lines = formatListing(r).split('\n');
  assert.deepEqual(lines.slice(3, 8), ['Label: minifs', 'Starting inode numbers by volume:', '\tVolume 1: 2', '\tVolume 2: 17', '         2\t.']);
});

test('without a host name restore prints no Level and Label lines', () => {
  const result: ListResult = {
    label: {
      date: 0, ddate: 86400, level: 3, label: 'x', filesys: '/', dev: 'd', host: '', flags: 3, ntrec: 10,
      byteOrder: 'le', compressed: false, compression: null, volumes: 1, oldInodeFormat: false, maxino: 0,
      volumeStartInodes: [], recovered: false,
    },
    entries: [{ path: '.', rawPath: Buffer.from('.'), ino: 2, type: 'dir', size: 512 }],
    damage: [],
    warnings: [],
  };
  assert.equal(formatListing(result), 'Dump   date: Thu Jan  1 00:00:00 1970\nDumped from: Fri Jan  2 00:00:00 1970\n         2\t.\n');
});
