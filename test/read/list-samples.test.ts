/**
 * The listing of every reference image made by Linux dump 0.4b47 must be byte-identical to what
 * the real `restore -t` printed for it (samples/*.listing).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { formatListing, formatListingBytes, formatListingJson, listImage, ctime } from '../../src/read/list.js';

// restore printed its dates in the machine's zone, which was UTC.
process.env.TZ = 'UTC';

const SAMPLES = fileURLToPath(new URL('../../../../shared/samples/linux-dump-0.4b47/', import.meta.url));

const SETS: Record<string, string[]> = {
  level0: ['level0.dump'],
  level1: ['level1.dump'],
  'level0-z': ['level0-z.dump'],
  'level0-j': ['level0-j.dump'],
  'mini-b64': ['mini-b64.dump'],
  'mini-4k': ['mini-4k.dump'],
  quirks: ['quirks.dump'],
  'synthetic-le': ['synthetic-le.dump'],
  'synthetic-be': ['synthetic-be.dump'],
  'mini-mv': ['mini-mv001', 'mini-mv002', 'mini-mv003', 'mini-mv004', 'mini-mv005', 'mini-mv006'],
};

for (const [name, files] of Object.entries(SETS)) {
  test(`listing of ${name} equals restore -t`, async () => {
    const result = await listImage({ files: files.map((f) => SAMPLES + f) });
    const expected = readFileSync(`${SAMPLES}${name}.listing`, 'utf8');
    assert.equal(formatListing(result), expected);
    assert.deepEqual(formatListingBytes(result), readFileSync(`${SAMPLES}${name}.listing`));
    assert.deepEqual(result.damage, []);
  });
}

test('quirks: the broken 255-byte-name record is listed as restore shows it', async () => {
  // Linux dump writes the 255-byte name with d_reclen 8 (§4.4): restore re-packs the record with
  // 8 bytes and reads its name from the next record, whose d_ino (15) starts with byte 0x0f.
  // We reproduce that rather than invent a name: the real name is not on the tape.
  const r = await listImage({ files: [SAMPLES + 'quirks.dump'] });
  const e = r.entries.find((x) => x.ino === 14)!;
  assert.deepEqual(e.rawPath, Buffer.from([0x2e, 0x2f, 0x0f]));
  assert.equal(e.type, 'file');
  assert.equal(r.entries.find((x) => x.ino === 15)?.path, './y1960.txt');
});

test('label info', async () => {
  const z = await listImage({ files: [SAMPLES + 'level0-z.dump'] });
  assert.equal(z.label.compressed, true);
  assert.equal(z.label.compression, 'zlib');
  assert.equal(z.label.ntrec, 10);
  assert.equal(z.label.byteOrder, 'le');
  assert.equal(z.label.label, 'minifs');
  assert.equal(z.label.host, 'vm');
  assert.equal(z.label.dev, '/dev/loop1');
  assert.equal(z.label.filesys, 'an unlisted file system');
  assert.equal(z.label.level, 0);
  assert.equal(z.label.date, 1795311512);
  assert.equal(z.label.maxino, 8193);
  const j = await listImage({ files: [SAMPLES + 'level0-j.dump'] });
  assert.equal(j.label.compression, 'bzip2');
  const be = await listImage({ files: [SAMPLES + 'synthetic-be.dump'] });
  assert.equal(be.label.byteOrder, 'be');
  assert.equal(be.label.compressed, false);
  const l1 = await listImage({ files: [SAMPLES + 'level1.dump'] });
  assert.equal(l1.label.level, 1);
  assert.equal(l1.label.ddate, 1795311507);
  const mv = await listImage({ files: ['001', '002', '003', '004', '005', '006'].map((n) => `${SAMPLES}mini-mv${n}`) });
  assert.equal(mv.label.volumes, 6);
});

test('entry types and sizes come from the inode headers', async () => {
  const r = await listImage({ files: [SAMPLES + 'level0.dump'] });
  const by = new Map(r.entries.map((e) => [e.path, e]));
  // Linux dump writes no sub-second or birth times.
  assert.deepEqual(by.get('.'), { path: '.', rawPath: Buffer.from('.'), ino: 2, type: 'dir', size: 1536, mtime: '1795311505.000000000', birthtime: null });
  assert.equal(by.get('./small.txt')?.type, 'file');
  assert.equal(by.get('./small.txt')?.size, 12);
  assert.equal(by.get('./random3m.bin')?.size, 3 * 1024 * 1024);
  assert.equal(by.get('./link_short')?.type, 'symlink');
  assert.equal(by.get('./fifo1')?.type, 'fifo');
  assert.equal(by.get('./sock1')?.type, 'socket');
  assert.equal(by.get('./chr_null')?.type, 'chr');
  assert.equal(by.get('./blk_loop')?.type, 'blk');
  assert.equal(by.get('./sparse.bin')?.size, 10 * 1024 * 1024);
  // hard links: one inode under every name
  const small = by.get('./small.txt')!.ino;
  assert.deepEqual(r.entries.filter((e) => e.ino === small).map((e) => e.path), ['./hardlink_a', './small.txt', './sub/hardlink_b'] /* on-tape entry order */);
  assert.ok(by.has(`./${'n'.repeat(254)}`));
  assert.ok(by.has('./café-€.txt'));
});

test('level 1: unchanged names in dumped directories are not listed', async () => {
  const r = await listImage({ files: [SAMPLES + 'level1.dump'] });
  const paths = r.entries.map((e) => e.path);
  assert.ok(paths.includes('./bigdir'));
  assert.ok(paths.includes('./bigdir/f_added'));
  assert.ok(!paths.includes('./bigdir/f0000'));
  assert.ok(!paths.includes('./random3m.bin'));
  assert.ok(paths.includes('./sub/hardlink_b'));
});

test('JSON lines: label first, then one object per entry', async () => {
  const r = await listImage({ files: [SAMPLES + 'mini-4k.dump'] });
  const lines = formatListingJson(r).trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines[0]!.kind, 'label');
  assert.equal(lines[0]!.dateText, 'Sun Nov 22 01:38:32 2026');
  assert.equal(lines[0]!.label, 'minifs');
  assert.equal(lines.length, 1 + r.entries.length);
  const t = { mtime: '1795311512.000000000', birthtime: null };
  assert.deepEqual(lines[1], { kind: 'entry', path: '.', ino: 2, type: 'dir', size: 512, ...t });
  assert.deepEqual(lines.find((l) => l.path === './text.txt'), { kind: 'entry', path: './text.txt', ino: 17, type: 'file', size: 320000, ...t });
  assert.deepEqual(lines.find((l) => l.path === './link'), { kind: 'entry', path: './link', ino: 16, type: 'symlink', size: 9, ...t });
});

test('ctime formatting pads the day like C', () => {
  assert.equal(ctime(0), 'Thu Jan  1 00:00:00 1970');
  assert.equal(ctime(-2147483648), 'Fri Dec 13 20:45:52 1901');
  assert.equal(ctime(1795311512), 'Sun Nov 22 01:38:32 2026');
});
