/**
 * Continuing an image on a virtual tape file (restarts of NDMP backups): how much image a tape
 * file holds, also when a power loss left its last entry half written, and resuming at an
 * offset inside a record.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { VirtualTape } from '../../src/tape/virtual-tape.js';
import { readTapeFileBytes, resumeVirtualTapeSink, tapeFileBytes } from '../../src/tape/virtual-tape-resume.js';

const RS = 1024;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtape-resume-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
let serial = 0;

function tapeWith(records: number): { file: string; image: Buffer } {
  const file = path.join(dir, `t${serial++}`);
  fs.writeFileSync(file, '');
  const image = Buffer.from(Array.from({ length: records * RS }, (_, i) => (i * 13) & 0xff));
  const t = VirtualTape.open(file, true);
  for (let i = 0; i < records; i++) t.write(image.subarray(i * RS, (i + 1) * RS));
  t.close();
  return { file, image };
}

test('a half-written last entry ends the tape file; resuming before it completes the image', async () => {
  const { file, image } = tapeWith(6);
  const m = { kind: 'virtual-tape' as const, path: file, tapeFile: 0, recordSize: RS };
  assert.equal(tapeFileBytes(m), 6 * RS);
  // A power loss in the middle of the next record: its header and part of its data are there.
  const intact = fs.statSync(file).size;
  const torn = Buffer.alloc(16 + 300, 7);
  torn.writeUInt32BE(0x53445654, 0); // "SDVT"
  torn.writeUInt32BE(1, 4);
  torn.writeUInt32BE(RS, 8);
  torn.writeUInt32BE(16 + RS, 12);
  fs.appendFileSync(file, torn);
  assert.equal(tapeFileBytes(m), 6 * RS, 'the torn record does not count');

  // Resume at a checkpoint inside record 4: the rest of the image is written again from there.
  const offset = 4 * RS + 100;
  const sink = resumeVirtualTapeSink('t', m, offset);
  const rest = Buffer.alloc(2 * RS + 500, 9);
  await sink.write([rest]);
  await sink.commit();
  assert.ok(fs.statSync(file).size !== intact + torn.length);
  const expected = Buffer.concat([image.subarray(0, offset), rest, Buffer.alloc(RS - ((offset + rest.length) % RS))]);
  assert.equal(tapeFileBytes(m), expected.length);
  assert.ok(readTapeFileBytes(m, 0, expected.length).equals(expected));
  const t = VirtualTape.open(file, false);
  assert.equal(t.fsf(1), 0, 'the image ends with a filemark');
  t.close();
});
