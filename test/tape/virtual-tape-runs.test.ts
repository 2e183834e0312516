/**
 * Runs on a virtual tape (N records of one size after one header, data copied in the kernel)
 * read, position, count and truncate exactly like N separate records: every operation is done
 * on a tape written with runs and on one written record by record, and both must agree.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { ENTRY_HEADER, RUN_HEADER, TapeMediaError, VirtualTape } from '../../src/tape/virtual-tape.js';
import { readTapeFileBytes, resumeVirtualTapeSink, tapeFileBytes } from '../../src/tape/virtual-tape-resume.js';
import { tapeFileRecords } from '../../src/tape/virtual-tape-files.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtape-runs-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
let serial = 0;
function tmpTape(): string {
  const f = path.join(dir, `t${serial++}`);
  fs.writeFileSync(f, '');
  return f;
}

/** The source file runs are copied from; reads past its end give zeros. */
const SOURCE = Buffer.alloc(40000);
for (let i = 0; i < SOURCE.length; i++) SOURCE[i] = (i * 7 + (i >> 8)) & 0xff;
const sourcePath = path.join(dir, 'source');
fs.writeFileSync(sourcePath, SOURCE);

function sourceBytes(offset: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  if (offset < SOURCE.length) SOURCE.copy(out, 0, offset, Math.min(SOURCE.length, offset + length));
  return out;
}

type Op =
  | { op: 'record'; len: number; fill: number }
  | { op: 'run'; size: number; count: number; srcOffset: number; before: number[] }
  | { op: 'filemarks'; n: number }
  | { op: 'read'; max: number }
  | { op: 'fsr' | 'bsr' | 'fsf' | 'bsf'; n: number }
  | { op: 'rewind' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('record' as const), len: fc.integer({ min: 0, max: 300 }), fill: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    op: fc.constant('run' as const), size: fc.integer({ min: 1, max: 700 }), count: fc.integer({ min: 1, max: 9 }),
    srcOffset: fc.integer({ min: 0, max: SOURCE.length + 500 }), before: fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 2 }),
  }),
  fc.record({ op: fc.constant('filemarks' as const), n: fc.integer({ min: 1, max: 2 }) }),
  fc.record({ op: fc.constant('read' as const), max: fc.integer({ min: 0, max: 800 }) }),
  fc.record({ op: fc.constantFrom('fsr' as const, 'bsr' as const, 'fsf' as const, 'bsf' as const), n: fc.integer({ min: 0, max: 12 }) }),
  fc.constant({ op: 'rewind' as const }),
);

/** Applies one operation; `runs` writes runs as runs, otherwise as separate records. Returns what a caller sees. */
function apply(t: VirtualTape, o: Op, runs: boolean, src: number): unknown {
  switch (o.op) {
    case 'record': t.write(Buffer.alloc(o.len, o.fill)); return null;
    case 'filemarks': t.writeFilemarks(o.n); return null;
    case 'run': {
      const before = o.before.map((n, i) => Buffer.alloc(n, i + 1));
      if (runs) return t.writeRun(before, src, o.srcOffset, o.size, o.count);
      const data = sourceBytes(o.srcOffset, o.size * o.count);
      const records = [...before, ...Array.from({ length: o.count }, (_, i) => data.subarray(i * o.size, (i + 1) * o.size))];
      assert.equal(t.writeRecords(records), records.length);
      return Math.max(0, Math.min(o.size * o.count, SOURCE.length - o.srcOffset));
    }
    case 'read': {
      const r = t.read(o.max);
      return r.kind === 'record' ? { kind: r.kind, length: r.length, data: r.data.toString('hex') } : r;
    }
    case 'rewind': t.rewind(); return null;
    default: return t[o.op](o.n);
  }
}

function everything(t: VirtualTape): string[] {
  t.rewind();
  const out: string[] = [];
  for (let guard = 0; guard < 100000; guard++) {
    const r = t.read(1 << 20);
    if (r.kind === 'eod') return out;
    out.push(r.kind === 'record' ? r.data.toString('hex') : 'FM');
    if (r.kind === 'filemark') t.fsf(1);
  }
  throw new Error('no end');
}

test('a tape written with runs behaves like one written record by record (random operations)', () => {
  const src = fs.openSync(sourcePath, 'r');
  try {
    fc.assert(fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), (ops) => {
      const a = VirtualTape.open(tmpTape(), true);
      const b = VirtualTape.open(tmpTape(), true);
      try {
        for (const o of ops) {
          assert.deepEqual(apply(a, o, true, src), apply(b, o, false, src), JSON.stringify(o));
          assert.deepEqual([a.fileNum, a.blockNo, a.atBot], [b.fileNum, b.blockNo, b.atBot], JSON.stringify(o));
        }
        assert.deepEqual(everything(a), everything(b));
        // Reopened (positions rebuilt from the file alone), the same again.
        const again = VirtualTape.open(a.path, false);
        try { assert.deepEqual(everything(again), everything(b)); } finally { again.close(); }
      } finally {
        a.close();
        b.close();
      }
    }), { numRuns: 300 });
  } finally {
    fs.closeSync(src);
  }
});

test('a run is one header and its records back to back; old single-record entries mix with it', () => {
  const f = tmpTape();
  const src = fs.openSync(sourcePath, 'r');
  const t = VirtualTape.open(f, true);
  try {
    t.write(Buffer.from('old'));
    assert.equal(t.writeRun([Buffer.from('ab')], src, 100, 1000, 5), 5000);
    assert.ok(t.kernelCopiedBytes === 5000 || t.kernelCopiedBytes === 0);
    t.writeFilemarks(1);
    assert.equal(fs.statSync(f).size, ENTRY_HEADER + 3 + ENTRY_HEADER + 2 + RUN_HEADER + 5000 + ENTRY_HEADER);
    // The run's data is one linear range of the file.
    assert.deepEqual(fs.readFileSync(f).subarray(2 * ENTRY_HEADER + 5 + RUN_HEADER, 2 * ENTRY_HEADER + 5 + RUN_HEADER + 5000), SOURCE.subarray(100, 5100));
    assert.deepEqual([t.fileNum, t.blockNo], [1, 0]);
    assert.equal(t.bsf(1), 0);
    assert.deepEqual([t.fileNum, t.blockNo], [0, 7]);
    assert.equal(t.bsr(3), 0);
    assert.equal(t.blockNo, 4);
    const r = t.read(2000);
    assert.ok(r.kind === 'record' && r.length === 1000);
    assert.deepEqual(r.data, SOURCE.subarray(100 + 2000, 100 + 3000));
  } finally {
    t.close();
    fs.closeSync(src);
  }
});

test('capacity: a run is written whole or not at all; the records before it count', () => {
  const src = fs.openSync(sourcePath, 'r');
  try {
    const need = ENTRY_HEADER + 10 + RUN_HEADER + 4 * 500;
    const full = VirtualTape.open(tmpTape(), true, need);
    assert.equal(full.writeRun([Buffer.alloc(10)], src, 0, 500, 4), 2000);
    assert.equal(full.spaceRemaining, 0);
    full.close();
    const short = VirtualTape.open(tmpTape(), true, need - 1);
    short.write(Buffer.alloc(1));
    assert.equal(short.writeRun([Buffer.alloc(10)], src, 0, 500, 4), -1);
    assert.equal(short.size, ENTRY_HEADER + 1);
    assert.equal(short.blockNo, 1);
    // Records that fit are still written; filemarks after the refusal as well.
    assert.equal(short.writeRecords([Buffer.alloc(500), Buffer.alloc(500)]), 2);
    short.writeFilemarks(2);
    short.close();
  } finally {
    fs.closeSync(src);
  }
});

test('a write inside a run splits it: the records before stay, the rest is gone', () => {
  const f = tmpTape();
  const src = fs.openSync(sourcePath, 'r');
  const t = VirtualTape.open(f, true);
  try {
    t.writeRun([], src, 0, 100, 10);
    t.writeFilemarks(1);
    t.rewind();
    assert.equal(t.fsr(4), 0);
    assert.equal(t.offset, RUN_HEADER + 400);
    t.write(Buffer.from('new'));
    assert.equal(fs.statSync(f).size, RUN_HEADER + 400 + ENTRY_HEADER + 3);
    t.rewind();
    const got = [...Array(6)].map(() => t.read(1000));
    assert.deepEqual(got.slice(0, 4).map((r) => r.kind === 'record' && r.data), [0, 1, 2, 3].map((i) => SOURCE.subarray(i * 100, (i + 1) * 100)));
    assert.ok(got[4]!.kind === 'record' && got[4].data.toString() === 'new');
    assert.deepEqual(got[5], { kind: 'eod' });
    // Moving backwards over the shortened run finds its new size.
    assert.equal(t.bsr(5), 0);
    assert.ok(t.atBot);
  } finally {
    t.close();
    fs.closeSync(src);
  }
});

test('a run cut short (power loss) keeps its whole records: readers stop there, a restart continues there', async () => {
  const f = tmpTape();
  const src = fs.openSync(sourcePath, 'r');
  const t = VirtualTape.open(f, true);
  t.writeRun([Buffer.from(SOURCE.subarray(0, 100))], src, 100, 100, 50);
  t.close();
  fs.closeSync(src);
  // The last 7 records and a half are lost.
  fs.truncateSync(f, ENTRY_HEADER + 100 + RUN_HEADER + 4250);
  const medium = { kind: 'virtual-tape' as const, path: f, tapeFile: 0, recordSize: 100 };
  assert.equal(tapeFileBytes(medium), 100 + 4200);
  assert.deepEqual(readTapeFileBytes(medium, 0, 4300), SOURCE.subarray(0, 4300));
  const r = VirtualTape.open(f, false);
  assert.equal(r.fsr(43), 0);
  assert.throws(() => r.read(100), TapeMediaError);
  r.rewind();
  assert.throws(() => r.fsr(50), TapeMediaError);
  r.rewind();
  assert.throws(() => r.fsf(1), TapeMediaError);
  r.close();
  await assert.rejects(async () => { for await (const _ of tapeFileRecords(f)) { /* read on */ } }, /ERR_CORRUPT|cut short/);
  // Resumed at byte 4150 (inside record 41): the run keeps 40 of its records, then the image goes on.
  const sink = resumeVirtualTapeSink('tape', medium, 4150);
  await sink.write([Buffer.from(SOURCE.subarray(4150, 6000))]);
  await sink.commit();
  assert.equal(tapeFileBytes(medium), 6000);
  assert.deepEqual(readTapeFileBytes(medium, 0, 6000), SOURCE.subarray(0, 6000));
  const again = VirtualTape.open(f, false);
  assert.equal(again.fsf(2), 0);
  assert.deepEqual([again.fileNum, again.blockNo], [2, 0]);
  assert.equal(again.bsf(2), 0);
  assert.deepEqual([again.fileNum, again.blockNo], [0, 60]);
  again.close();
});
