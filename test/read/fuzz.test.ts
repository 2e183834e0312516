/**
 * Hostile input: whatever the bytes, listing finishes quickly and the only exceptions are
 * SnapdumpErrors with a code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { listImage } from '../../src/read/list.js';
import { SnapdumpError } from '../../src/errors.js';
import { openTapeSource } from '../../src/tape/source.js';
import { ImageReader } from '../../src/read/image-reader.js';

const SAMPLES = fileURLToPath(new URL('../../../../shared/samples/linux-dump-0.4b47/', import.meta.url));
const IMAGES = ['mini-4k.dump', 'quirks.dump', 'synthetic-be.dump', 'level0-z.dump', 'level0-j.dump', 'level1.dump']
  .map((f) => readFileSync(SAMPLES + f));
const CHECKSUM = 84446;

function mem(buf: Uint8Array) {
  return { name: 'fuzz', stream: (async function* () { yield buf; })() };
}

/** Lists the bytes and reads every object's data; must end, and only with a SnapdumpError. */
async function survive(buf: Uint8Array): Promise<void> {
  const t0 = Date.now();
  try {
    await listImage({ files: [], inputs: [mem(buf)] });
    const source = await openTapeSource([mem(buf)]);
    try {
      for await (const item of new ImageReader(source)) {
        if (item.kind === 'inode' || item.kind === 'xattr') for await (const _ of item.data()) { /* read it all */ }
      }
    } finally {
      await source.close();
    }
  } catch (e) {
    if (!(e instanceof SnapdumpError)) throw e;
    assert.match(e.code, /^ERR_/);
  }
  assert.ok(Date.now() - t0 < 5000, 'took too long');
}

/** Header checksums made valid again, so that hostile field values get past the checksum. */
function fixChecksum(buf: Buffer, off: number, le: boolean): void {
  buf.writeUInt32LE(0, off + 28);
  let sum = 0;
  for (let i = 0; i < 1024; i += 4) sum = (sum + (le ? buf.readUInt32LE(off + i) : buf.readUInt32BE(off + i))) >>> 0;
  const c = (CHECKSUM - sum) >>> 0;
  if (le) buf.writeUInt32LE(c, off + 28); else buf.writeUInt32BE(c, off + 28);
}

test('random bytes', { timeout: 60000 }, async () => {
  await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 6000 }), survive), { numRuns: 150 });
});

test('random bytes after a real volume header', { timeout: 60000 }, async () => {
  const head = IMAGES[0]!.subarray(0, 1024);
  await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 20000 }), async (tail) => {
    await survive(Buffer.concat([head, tail]));
  }), { numRuns: 100 });
});

test('real images with random truncation and bit flips', { timeout: 60000 }, async () => {
  await fc.assert(fc.asyncProperty(
    fc.nat(IMAGES.length - 1),
    fc.array(fc.tuple(fc.nat(), fc.nat(7)), { maxLength: 40 }),
    fc.option(fc.nat()),
    async (which, flips, cut) => {
      const img = IMAGES[which]!;
      const buf = Buffer.from(img.subarray(0, cut === null ? img.length : cut % (img.length + 1)));
      for (const [pos, bit] of flips) if (buf.length > 0) buf[pos % buf.length]! ^= 1 << bit;
      await survive(buf);
    },
  ), { numRuns: 120 });
});

test('headers with hostile field values and valid checksums', { timeout: 60000 }, async () => {
  // Words of real headers replaced by random or extreme values, checksum recomputed.
  const extremes = fc.oneof(fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 512, 513, 60012, 2 ** 19, 2 ** 20), fc.nat(0xffffffff));
  const uncompressed = [IMAGES[0]!, IMAGES[1]!, IMAGES[2]!, IMAGES[5]!];
  await fc.assert(fc.asyncProperty(
    fc.nat(uncompressed.length - 1),
    fc.array(fc.tuple(fc.nat(), fc.nat(255), extremes), { minLength: 1, maxLength: 12 }),
    async (which, edits) => {
      const img = uncompressed[which]!;
      const le = img.readInt32LE(24) === 60012;
      const buf = Buffer.from(img);
      const blocks = buf.length / 1024;
      for (const [blk, word, value] of edits) {
        const off = (blk % Math.min(blocks, 40)) * 1024;
        if (word === 6 || word === 7) continue; // keep magic and checksum slots for fixChecksum
        if (le) buf.writeUInt32LE(value >>> 0, off + word * 4); else buf.writeUInt32BE(value >>> 0, off + word * 4);
        fixChecksum(buf, off, le);
      }
      await survive(buf);
    },
  ), { numRuns: 150 });
});
