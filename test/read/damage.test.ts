/**
 * Damaged, truncated, foreign and mismatched input: clear coded errors where the input cannot be
 * read at all, damage items and a best-effort listing otherwise.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatListing, listImage, type ListResult } from '../../src/read/list.js';
import { SnapdumpError } from '../../src/errors.js';
import { checksumOk, decodeHeader, detectByteOrder } from '../../src/format/header.js';

process.env.TZ = 'UTC';

const SAMPLES = fileURLToPath(new URL('../../../../shared/samples/linux-dump-0.4b47/', import.meta.url));
const MV = ['001', '002', '003', '004', '005', '006'].map((n) => `${SAMPLES}mini-mv${n}`);
const LEVEL0 = readFileSync(SAMPLES + 'level0.dump');
const LEVEL0_LISTING = readFileSync(SAMPLES + 'level0.listing', 'utf8');

function mem(buf: Uint8Array, name = 'image') {
  return { name, stream: (async function* () { yield buf; })() };
}

function listBuffer(buf: Uint8Array): Promise<ListResult> {
  return listImage({ files: [], inputs: [mem(buf)] });
}

/** Offsets, types and inode numbers of the headers of an intact image. */
function headers(buf: Buffer): Array<{ offset: number; type: number; ino: number; count: number }> {
  const order = detectByteOrder(buf, 0)!;
  const out = [];
  for (let off = 0; off + 1024 <= buf.length; off += 1024) {
    if (detectByteOrder(buf, off) === order && checksumOk(buf, off, order)) {
      const h = decodeHeader(buf, off, order);
      out.push({ offset: off, type: h.type, ino: h.inumber, count: h.count });
    }
  }
  return out;
}

const tmp = mkdtempSync(join(tmpdir(), 'snapdump-read-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
function tmpFile(name: string, content: Uint8Array): string {
  const p = join(tmp, name);
  writeFileSync(p, content);
  return p;
}

test('input that is not a dump is refused with ERR_NOT_DUMP', async () => {
  for (const buf of [Buffer.alloc(0), Buffer.from('hello world\n'), Buffer.alloc(10240), readFileSync(SAMPLES + 'level0.listing')]) {
    await assert.rejects(listBuffer(buf), (e: unknown) => {
      assert.ok(e instanceof SnapdumpError);
      assert.equal(e.code, 'ERR_NOT_DUMP');
      assert.match(e.message, /not a dump image/);
      return true;
    });
  }
  await assert.rejects(listImage({ files: [SAMPLES + 'generate.sh'] }), { code: 'ERR_NOT_DUMP' });
});

test('a missing file is ERR_SOURCE', async () => {
  await assert.rejects(listImage({ files: [join(tmp, 'nope.dump')] }), { code: 'ERR_SOURCE' });
});

test('old-format, UFS2 and LZO dumps are refused with ERR_UNSUPPORTED', async () => {
  const ofs = Buffer.from(LEVEL0.subarray(0, 10240));
  ofs.writeInt32LE(60011, 24);
  await assert.rejects(listBuffer(ofs), { code: 'ERR_UNSUPPORTED', message: /old-format/ });
  const ufs2 = Buffer.from(LEVEL0.subarray(0, 10240));
  ufs2.writeUInt32LE(0x19540119, 24);
  await assert.rejects(listBuffer(ufs2), { code: 'ERR_UNSUPPORTED', message: /UFS2/ });
  // Relabel level0-z's first compressed record as LZO (method 2).
  const lzo = Buffer.from(readFileSync(SAMPLES + 'level0-z.dump'));
  const word = lzo.readUInt32LE(10240);
  lzo.writeUInt32LE(((word & ~0xe) | (2 << 1)) >>> 0, 10240);
  await assert.rejects(listBuffer(lzo), { code: 'ERR_UNSUPPORTED', message: /LZO/ });
});

test('a truncated image lists everything before the cut and reports ERR_TRUNCATED', async () => {
  // Cut in the file phase (after every directory) and mid-block: the listing is whole.
  const cut = 5000 * 1024 + 333;
  const r = await listBuffer(LEVEL0.subarray(0, cut));
  assert.equal(formatListing(r), LEVEL0_LISTING);
  const trunc = r.damage.filter((d) => d.code === 'ERR_TRUNCATED');
  assert.ok(trunc.length >= 1);
  assert.equal(trunc.at(-1)!.offset, 5000 * 1024);
  assert.match(trunc.at(-1)!.message, /ends at byte 5120000 before its end marker/);

  // Cut inside bigdir's directory data: every name read so far is still listed, in order.
  const r2 = await listBuffer(LEVEL0.subarray(0, 30 * 1024));
  assert.equal(r2.damage.at(-1)!.code, 'ERR_TRUNCATED');
  const expected = LEVEL0_LISTING.split('\n').slice(4, -1);
  const got = formatListing(r2).split('\n').slice(4, -1);
  let k = 0;
  for (const line of got) {
    while (k < expected.length && expected[k] !== line) k++;
    assert.ok(k < expected.length, `unexpected line ${line}`);
  }
  assert.ok(got.includes('      2044\t./noatime.txt'), 'root entries after the cut directory are listed');
  assert.ok(got.includes('        13\t./bigdir/f0000'));
  assert.ok(got.length > 400);
});

test('a truncated compressed image reports ERR_TRUNCATED', async () => {
  const z = readFileSync(SAMPLES + 'level0-z.dump');
  const r = await listBuffer(z.subarray(0, z.length - 500));
  assert.equal(r.damage.at(-1)!.code, 'ERR_TRUNCATED');
  assert.equal(formatListing(r), readFileSync(SAMPLES + 'level0-z.listing', 'utf8'));
});

test('a flipped byte in a file data block changes nothing', async () => {
  const hs = headers(LEVEL0);
  const big = hs.find((h) => h.type === 2 && h.count === 256)!; // first header of random3m.bin
  const buf = Buffer.from(LEVEL0);
  buf[big.offset + 1024 + 17]! ^= 0x40;
  buf[big.offset + 1024 * 100]! ^= 0xff;
  const r = await listBuffer(buf);
  assert.equal(formatListing(r), LEVEL0_LISTING);
  assert.deepEqual(r.damage, []);
});

test('a flipped byte in a file header is reported at its offset and the walk resynchronises', async () => {
  const hs = headers(LEVEL0);
  const files = hs.filter((h) => h.type === 2 && h.ino >= 2013);
  const victim = files[Math.floor(files.length / 2)]!;
  const buf = Buffer.from(LEVEL0);
  buf[victim.offset + 700]! ^= 0x01;
  const r = await listBuffer(buf);
  assert.equal(formatListing(r), LEVEL0_LISTING);
  assert.equal(r.damage.length, 1);
  assert.equal(r.damage[0]!.offset, victim.offset);
  assert.equal(r.damage[0]!.code, 'ERR_CORRUPT');
  assert.match(r.damage[0]!.message, new RegExp(`bad header at byte ${victim.offset} \\(checksum mismatch\\); resynchronised`));
});

test('a flipped byte in a directory continuation header loses only that block of names', async () => {
  const hs = headers(LEVEL0);
  const bigdir = hs.filter((h) => h.type === 4 && h.ino === 12);
  const victim = bigdir[5]!;
  const buf = Buffer.from(LEVEL0);
  buf[victim.offset + 3]! ^= 0x80;
  const r = await listBuffer(buf);
  assert.deepEqual(r.damage.map((d) => d.offset), [victim.offset]);
  const got = formatListing(r).split('\n');
  const expected = LEVEL0_LISTING.split('\n');
  const missing = expected.filter((l) => !got.includes(l));
  // One KiB of directory entries: two 512-byte chunks of "fNNNN" names, nothing else.
  assert.ok(missing.length > 0 && missing.length <= 64, `${missing.length} missing`);
  assert.ok(missing.every((l) => /\.\/bigdir\/f\d{4}$/.test(l)));
  assert.ok(got.includes('      2044\t./noatime.txt'));
  assert.ok(got.includes('      2012\t./bigdir/f1999'), 'entries after the damage in the same directory are listed');
});

test('a damaged volume header is recovered from the next header', async () => {
  const buf = Buffer.from(LEVEL0);
  buf[900]! ^= 0x10;
  const r = await listBuffer(buf);
  assert.equal(formatListing(r), LEVEL0_LISTING);
  assert.deepEqual(r.damage.map((d) => d.offset), [0]);
  assert.equal(r.label.recovered, true);
});

test('garbage in the middle is skipped over', async () => {
  const hs = headers(LEVEL0);
  const files = hs.filter((h) => h.type === 2 && h.ino >= 2013);
  const from = files[3]!.offset;
  const buf = Buffer.from(LEVEL0);
  for (let i = from; i < from + 20 * 1024; i++) buf[i] = (i * 7919) & 0xff;
  const r = await listBuffer(buf);
  assert.equal(formatListing(r), LEVEL0_LISTING);
  assert.equal(r.damage.length, 1);
  assert.equal(r.damage[0]!.offset, from);
});

test('multi-volume: wrong order, a missing volume and a foreign file are refused clearly', async () => {
  await assert.rejects(listImage({ files: [MV[0]!, MV[2]!, MV[1]!] }), { code: 'ERR_CORRUPT', message: /is volume 3, expected volume 2 \(volume 2 is missing\)/ });
  await assert.rejects(listImage({ files: [MV[1]!, MV[0]!] }), { code: 'ERR_CORRUPT', message: /is volume 2 of a dump; give volume 1 first/ });
  await assert.rejects(listImage({ files: [MV[0]!, SAMPLES + 'level0.dump'] }), { code: 'ERR_CORRUPT', message: /belongs to another dump/ });
  await assert.rejects(listImage({ files: [MV[0]!, SAMPLES + 'generate.sh'] }), { code: 'ERR_CORRUPT', message: /expected volume 2/ });
});

test('multi-volume: missing last volumes and a short volume are damage, not errors', async () => {
  const r = await listImage({ files: MV.slice(0, 4) });
  assert.equal(formatListing(r), readFileSync(SAMPLES + 'mini-mv.listing', 'utf8'));
  assert.equal(r.damage.at(-1)!.code, 'ERR_TRUNCATED');
  assert.match(r.damage.at(-1)!.message, /further volumes are missing/);

  const short = tmpFile('mv002-short', readFileSync(MV[1]!).subarray(0, 40 * 1024));
  const r2 = await listImage({ files: [MV[0]!, short, ...MV.slice(2)] });
  assert.equal(formatListing(r2), readFileSync(SAMPLES + 'mini-mv.listing', 'utf8'));
  assert.ok(r2.damage.some((d) => /volume 3 continues with 161 data blocks where 181 were expected/.test(d.message)), JSON.stringify(r2.damage));
});

test('an aborted signal stops the read with ERR_ABORTED', async () => {
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(listImage({ files: [SAMPLES + 'level0.dump'], signal: ac.signal }), { code: 'ERR_ABORTED' });
});
