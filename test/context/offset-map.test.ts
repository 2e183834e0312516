import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { OffsetMapWriter, readOffsetMap } from '../../src/context/offset-map.js';
import { removeTree, tempDir } from '../helpers/tree.js';

describe('offset map', () => {
  let work: string;
  before(() => { work = tempDir('offsets'); });
  after(() => removeTree(work));

  it('appends in order and survives buffering past its flush size', () => {
    const file = path.join(work, 'a.offsets');
    const w = new OffsetMapWriter(file);
    const want: Array<[number, number]> = [];
    for (let i = 0; i < 20_000; i++) { const rec: [number, number] = [i + 2, i * 1024 + 2 ** 33]; want.push(rec); w.add(...rec); }
    w.close();
    assert.deepEqual(readOffsetMap(file), want);
  });

  it('a restart cuts it back to the objects before the checkpoint offset, directories included', () => {
    const file = path.join(work, 'b.offsets');
    const w = new OffsetMapWriter(file);
    // Directories (inodes 2, 50, 90) then files (10, 20, 30): inode numbers restart, offsets do not.
    const recs: Array<[number, number]> = [[2, 1024], [50, 2048], [90, 3072], [10, 4096], [20, 8192], [30, 12288]];
    for (const r of recs) w.add(...r);
    w.close();
    const resumed = new OffsetMapWriter(file, 4096); // checkpoint at the first file
    resumed.add(10, 4096);
    resumed.close();
    assert.deepEqual(readOffsetMap(file), [[2, 1024], [50, 2048], [90, 3072], [10, 4096]]);
  });
});
