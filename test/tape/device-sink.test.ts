/** A tape device gets exactly one write per record, each exactly the record size. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { TapeDeviceSink } from '../../src/tape/sink.js';
import { isSnapdumpError } from '../../src/errors.js';

it('splits any sequence of parts into whole records, one write each', async () => {
  const writes: Buffer[] = [];
  const sink = new TapeDeviceSink('/dev/fake', 99, 4096, async (_fd, rec) => { writes.push(Buffer.from(rec)); return rec.length; }, () => undefined);
  const data = Buffer.alloc(3 * 4096);
  for (let i = 0; i < data.length; i++) data[i] = i & 0xff;
  // Odd part sizes that straddle record boundaries.
  await sink.write([data.subarray(0, 1000), data.subarray(1000, 5000)]);
  await sink.write([data.subarray(5000, 12288)]);
  await sink.commit();
  assert.equal(writes.length, 3);
  for (const w of writes) assert.equal(w.length, 4096);
  assert.deepEqual(Buffer.concat(writes), data);
});

it('refuses to finish in the middle of a record', async () => {
  const sink = new TapeDeviceSink('/dev/fake', 99, 4096, async (_fd, rec) => rec.length, () => undefined);
  await sink.write([Buffer.alloc(1024)]);
  await assert.rejects(sink.commit(), (e: unknown) => isSnapdumpError(e) && e.code === 'ERR_INTERNAL');
});

it('a short write (end of medium) is an ERR_OUTPUT error', async () => {
  const sink = new TapeDeviceSink('/dev/fake', 99, 4096, async () => 1000, () => undefined);
  await assert.rejects(sink.write([Buffer.alloc(4096)]), (e: unknown) => isSnapdumpError(e) && e.code === 'ERR_OUTPUT' && /end of medium/.test(e.message));
});
