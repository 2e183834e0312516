/**
 * Where the input happens to be cut into reads must never matter: random stream chunkings and
 * read sizes give the same listing and the same file contents.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { formatListing, listImage } from '../../src/read/list.js';
import { openTapeSource, type TapeInput } from '../../src/tape/source.js';
import { ImageReader } from '../../src/read/image-reader.js';

process.env.TZ = 'UTC';

const SAMPLES = fileURLToPath(new URL('../../../../shared/samples/linux-dump-0.4b47/', import.meta.url));

const SETS: Record<string, string[]> = {
  'level0-z': ['level0-z.dump'],
  'level0-j': ['level0-j.dump'],
  'synthetic-be': ['synthetic-be.dump'],
  quirks: ['quirks.dump'],
  'mini-mv': ['mini-mv001', 'mini-mv002', 'mini-mv003', 'mini-mv004', 'mini-mv005', 'mini-mv006'],
};

/** Serves buf in slices of the given sizes (cycled), like a pipe would. */
function sliced(name: string, buf: Buffer, sizes: number[]): TapeInput {
  return {
    name,
    stream: (async function* () {
      let off = 0;
      for (let i = 0; off < buf.length; i++) {
        const n = sizes[i % sizes.length]!;
        yield buf.subarray(off, off + n);
        off += n;
      }
    })(),
  };
}

/** sha256 of every object's contents, by inode and kind. */
async function digests(inputs: TapeInput[], readSize?: number): Promise<string[]> {
  const source = await openTapeSource(inputs, { readSize });
  try {
    const out: string[] = [];
    for await (const item of new ImageReader(source)) {
      if (item.kind === 'inode' || item.kind === 'xattr') {
        const h = createHash('sha256');
        for await (const p of item.data()) h.update(p.data ?? Buffer.alloc(p.hole));
        out.push(`${item.kind} ${item.ino} ${h.digest('hex')}`);
      } else {
        out.push(`${item.kind} ${item.offset}`);
      }
    }
    return out;
  } finally {
    await source.close();
  }
}

for (const [name, files] of Object.entries(SETS)) {
  const bufs = files.map((f) => readFileSync(SAMPLES + f));
  const expected = readFileSync(`${SAMPLES}${name}.listing`, 'utf8');

  test(`${name}: random stream chunking gives the same listing and contents`, async () => {
    const reference = await digests(files.map((f) => SAMPLES + f));
    await fc.assert(fc.asyncProperty(
      fc.array(fc.integer({ min: 1, max: 40000 }), { minLength: 1, maxLength: 30 }),
      async (sizes) => {
        const r = await listImage({ files: [], inputs: bufs.map((b, i) => sliced(files[i]!, b, sizes)) });
        assert.equal(formatListing(r), expected);
        assert.deepEqual(r.damage, []);
        assert.deepEqual(await digests(bufs.map((b, i) => sliced(files[i]!, b, sizes))), reference);
      },
    ), { numRuns: name === 'level0-j' ? 4 : 10 });
  });

  test(`${name}: any read size gives the same result`, async () => {
    const reference = await digests(files.map((f) => SAMPLES + f));
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 300000 }), async (readSize) => {
      const r = await listImage({ files: files.map((f) => SAMPLES + f), readSize });
      assert.equal(formatListing(r), expected);
      assert.deepEqual(await digests(files.map((f) => SAMPLES + f), readSize), reference);
    }), { numRuns: name === 'level0-j' ? 3 : 6 });
  });
}

test('one byte at a time', async () => {
  const buf = readFileSync(SAMPLES + 'quirks.dump');
  const r = await listImage({ files: [], inputs: [sliced('quirks', buf, [1])] });
  assert.equal(formatListing(r), readFileSync(SAMPLES + 'quirks.listing', 'utf8'));
});
