/** Record marking: records survive any split into TCP chunks and any fragmentation; limits hold. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RecordAssembler, RecordMarkingError, frameRecord } from '../../../src/ndmp/wire/record-marking.js';

function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) { out.push(buf.subarray(prev, p)); prev = p; }
  out.push(buf.subarray(prev));
  return out;
}

test('records come out whole whatever the fragment sizes and chunk splits', () => {
  fc.assert(fc.property(
    fc.array(fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)), { minLength: 1, maxLength: 6 }),
    fc.integer({ min: 1, max: 64 }),
    fc.array(fc.nat(), { maxLength: 30 }),
    (records, frag, cuts) => {
      const stream = Buffer.concat(records.flatMap((r) => frameRecord(r, frag)));
      const a = new RecordAssembler();
      const got: Buffer[] = [];
      for (const chunk of splitAt(stream, cuts)) got.push(...a.push(chunk));
      assert.deepEqual(got.map((b) => b.toString('hex')), records.map((b) => b.toString('hex')));
      assert.equal(a.midRecord, false);
    }), { numRuns: 500 });
});

test('ndmjob-style 3996-byte fragments reassemble', () => {
  const rec = Buffer.alloc(9000, 7);
  const frames = frameRecord(rec, 3996);
  assert.equal(frames[0]!.readUInt32BE(0), 3996);
  assert.equal(frames.at(-2)!.readUInt32BE(0) >>> 31, 1);
  assert.deepEqual(new RecordAssembler().push(Buffer.concat(frames)), [rec]);
});

test('a truncated record is reported as midRecord', () => {
  const a = new RecordAssembler();
  const stream = Buffer.concat(frameRecord(Buffer.alloc(40)));
  assert.deepEqual(a.push(stream.subarray(0, 30)), []);
  assert.equal(a.midRecord, true);
});

test('oversized fragments and records are refused', () => {
  const a = new RecordAssembler({ maxFragment: 100, maxRecord: 150 });
  const head = Buffer.alloc(4);
  head.writeUInt32BE(0x8000_0000 + 101);
  assert.throws(() => a.push(head), RecordMarkingError);
  assert.throws(() => a.push(Buffer.alloc(0)), RecordMarkingError);
  const b = new RecordAssembler({ maxFragment: 100, maxRecord: 150 });
  assert.throws(() => b.push(Buffer.concat(frameRecord(Buffer.alloc(200), 80))), RecordMarkingError);
  // 2^31-1 announced: refused at once, nothing buffered.
  assert.throws(() => new RecordAssembler().push(Buffer.from('ffffffff', 'hex')), RecordMarkingError);
});
