/** Readers take a virtual tape (the NDMP server's) as an input: its first tape file is the image. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backup } from '../../src/backup.js';
import { listImage } from '../../src/read/list.js';
import { restore } from '../../src/restore/index.js';
import { VirtualTape } from '../../src/tape/virtual-tape.js';
import { compareTrees, pseudoRandom, removeTree, snapshotTree, tempDir } from '../helpers/tree.js';

describe('a virtual tape as input', () => {
  let work: string;
  let src: string;
  let image: string;
  let tape: string;
  before(async () => {
    work = tempDir('vtape-input');
    src = path.join(work, 'src');
    fs.mkdirSync(path.join(src, 'd'), { recursive: true });
    fs.writeFileSync(path.join(src, 'a'), pseudoRandom(70_000, 1));
    fs.writeFileSync(path.join(src, 'd', 'b'), 'bee');
    image = path.join(work, 'img.dump');
    await backup({ source: src, output: image, snapshot: 'off', history: false, update: false });
    // The image as 10 KiB tape records, then a filemark and a second (unrelated) tape file.
    tape = path.join(work, 'tape');
    fs.writeFileSync(tape, '');
    const vt = VirtualTape.open(tape, true);
    const bytes = fs.readFileSync(image);
    const records: Buffer[] = [];
    for (let o = 0; o < bytes.length; o += 10240) records.push(bytes.subarray(o, o + 10240));
    vt.writeRecords(records);
    vt.writeFilemarks(1);
    vt.writeRecords([Buffer.alloc(10240, 7)]);
    vt.writeFilemarks(1);
    vt.close();
  });
  after(() => removeTree(work));

  it('list reads the first tape file exactly as the plain image', async () => {
    const fromTape = await listImage({ files: [tape] });
    const fromFile = await listImage({ files: [image] });
    assert.deepEqual(fromTape.entries, fromFile.entries);
    assert.ok(fromTape.entries.some((e) => e.path.endsWith('d/b')));
  });

  it('restore rebuilds the source from the tape', async () => {
    const dest = path.join(work, 'dest');
    fs.mkdirSync(dest);
    const s = await restore({ files: [tape], dest, force: true });
    assert.equal(s.exitStatus, 0);
    assert.deepEqual(compareTrees(snapshotTree(src), snapshotTree(dest, { ignore: (r) => r === '.snapdump-restore.json' }), { mtimeResolutionNs: 1000n }), []);
  });
});
