/** The virtual tape container: positioning rules, persistence, damage detection. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { ENTRY_HEADER, TapeMediaError, VirtualTape } from '../../src/tape/virtual-tape.js';

const tapesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtape-'));
after(() => fs.rmSync(tapesDir, { recursive: true, force: true }));
let tapes = 0;

function tmpTape(): string {
  const f = path.join(tapesDir, `t${tapes++}`);
  fs.writeFileSync(f, '');
  return f;
}

test('records and filemarks come back with exact positions; blank tape is EOD', () => {
  const f = tmpTape();
  const t = VirtualTape.open(f, true);
  assert.deepEqual(t.read(100), { kind: 'eod' });
  t.write(Buffer.from('one'));
  t.write(Buffer.alloc(5000, 2));
  t.writeFilemarks(1);
  t.write(Buffer.from('three'));
  t.writeFilemarks(2);
  assert.equal(fs.statSync(f).size, 6 * ENTRY_HEADER + 3 + 5000 + 5);
  t.rewind();
  const a = t.read(2);
  assert.ok(a.kind === 'record' && a.data.toString() === 'on' && a.length === 3);
  assert.deepEqual([t.fileNum, t.blockNo], [0, 1]);
  assert.equal(t.fsr(10), 9);
  assert.deepEqual(t.read(10), { kind: 'filemark' });
  assert.equal(t.fsf(1), 0);
  assert.deepEqual([t.fileNum, t.blockNo], [1, 0]);
  assert.equal(t.bsf(1), 0);
  assert.deepEqual([t.fileNum, t.blockNo], [0, 2]);
  assert.equal(t.fsf(5), 2);
  assert.deepEqual([t.fileNum, t.blockNo], [3, 0]);
  assert.deepEqual(t.read(1), { kind: 'eod' });
  assert.equal(t.bsr(1), 1);
  t.close();
  // Reopened: the same content.
  const r = VirtualTape.open(f, false);
  r.fsf(1);
  const three = r.read(100);
  assert.ok(three.kind === 'record' && three.data.toString() === 'three');
  r.close();
});

test('writing in the middle discards what followed', () => {
  const f = tmpTape();
  const t = VirtualTape.open(f, true);
  for (let i = 0; i < 5; i++) t.write(Buffer.alloc(10, i));
  t.rewind();
  t.fsr(2);
  t.write(Buffer.from('x'));
  assert.deepEqual(t.read(10), { kind: 'eod' });
  t.rewind();
  assert.equal(t.fsr(100), 97);
  t.close();
});

test('random operation sequences keep positions consistent with a model', () => {
  fc.assert(fc.property(fc.array(fc.oneof(
    fc.record({ op: fc.constant('w'), n: fc.integer({ min: 1, max: 40 }) }),
    fc.record({ op: fc.constant('wm'), n: fc.integer({ min: 0, max: 4 }) }),
    fc.record({ op: fc.constantFrom('eof', 'fsr', 'bsr', 'fsf', 'bsf', 'rew', 'read'), n: fc.integer({ min: 0, max: 4 }) }),
  ), { maxLength: 40 }), (ops) => {
    const f = tmpTape();
    const t = VirtualTape.open(f, true);
    // Model: list of entries (number = record length, 'F' = filemark) and an index.
    const model: Array<number | 'F'> = [];
    let i = 0;
    const pos = () => {
      let file = 0; let block = 0;
      for (let k = 0; k < i; k++) { if (model[k] === 'F') { file++; block = 0; } else block++; }
      return [file, block];
    };
    try {
      for (const { op, n } of ops) {
        if (op === 'w') { t.write(Buffer.alloc(n, 7)); model.length = i; model.push(n); i++; }
        else if (op === 'wm') {
          const recs = Array.from({ length: n }, (_, k) => Buffer.alloc(k + 1, k));
          t.writeRecords(recs);
          if (n > 0) { model.length = i; for (const r of recs) model.push(r.length); i += n; }
        } else if (op === 'eof') { t.writeFilemarks(n); model.length = i; for (let k = 0; k < n; k++) model.push('F'); i += n; }
        else if (op === 'rew') { t.rewind(); i = 0; }
        else if (op === 'fsr') { let d = 0; while (d < n && i < model.length && model[i] !== 'F') { i++; d++; } assert.equal(t.fsr(n), n - d); }
        else if (op === 'bsr') { let d = 0; while (d < n && i > 0 && model[i - 1] !== 'F') { i--; d++; } assert.equal(t.bsr(n), n - d); }
        else if (op === 'fsf') { let d = 0; while (d < n && i < model.length) { if (model[i++] === 'F') d++; } assert.equal(t.fsf(n), n - d); }
        else if (op === 'bsf') { let d = 0; while (d < n && i > 0) { if (model[--i] === 'F') d++; } assert.equal(t.bsf(n), n - d); }
        else if (op === 'read') {
          const r = t.read(100);
          if (i >= model.length) assert.equal(r.kind, 'eod');
          else if (model[i] === 'F') assert.equal(r.kind, 'filemark');
          else { assert.ok(r.kind === 'record' && r.length === model[i]); i++; }
        }
        assert.deepEqual([t.fileNum, t.blockNo], pos(), `after ${op} ${n}`);
      }
    } finally {
      t.close();
    }
  }), { numRuns: 300 });
});

test('a damaged container is a media error, not a crash', () => {
  const f = tmpTape();
  const t = VirtualTape.open(f, true);
  t.write(Buffer.alloc(100));
  t.close();
  const b = fs.readFileSync(f);
  b.write('XXXX', 0);
  fs.writeFileSync(f, b);
  const r = VirtualTape.open(f, false);
  assert.throws(() => r.read(10), TapeMediaError);
  r.close();
  fs.writeFileSync(f, Buffer.alloc(7));
  const s = VirtualTape.open(f, false);
  assert.throws(() => s.fsf(1), TapeMediaError);
  s.close();
});
