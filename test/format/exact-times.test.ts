/**
 * snapdump's exact times in c_spare: round trip through the header codec and the fast header
 * template, and images without them (Linux dump's zeros) decode to none.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeExactTimes, encodeExactTimes, EXACT_TIMES_MAGIC, EXACT_TIMES_WORDS, formatExactTime, type ExactTimes } from '../../src/format/exact-times.js';
import { decodeHeader, emptyHeader, encodeHeader, HEADER_SPARE_OFFSET, checksumOk } from '../../src/format/header.js';
import { HeaderTemplate } from '../../src/format/header-template.js';
import { TP_BSIZE } from '../../src/format/constants.js';

// ext4 holds 1901..2446; the format keeps any 64-bit second a JS number holds exactly.
const seconds = fc.integer({ min: -(2 ** 40), max: 2 ** 40 });
const nsec = fc.integer({ min: 0, max: 999_999_999 });
const exactTimes: fc.Arbitrary<ExactTimes> = fc.record({
  atimeSec: seconds, atimeNsec: nsec, mtimeSec: seconds, mtimeNsec: nsec, ctimeSec: seconds, ctimeNsec: nsec,
  birth: fc.option(fc.record({ sec: seconds, nsec }), { nil: null }),
}).map((r) => ({ ...r, birth: r.birth ? { ...r.birth } : null })); // plain objects for deepEqual

describe('exact times', () => {
  test('encode/decode round trip', () => {
    fc.assert(fc.property(exactTimes, (t) => {
      assert.deepEqual(decodeExactTimes(encodeExactTimes(t)), t);
    }));
  });

  test('all-zero spare words (Linux dump) and foreign data decode to none', () => {
    assert.equal(decodeExactTimes(new Uint32Array(30)), null);
    const w = encodeExactTimes({ atimeSec: 1, atimeNsec: 2, mtimeSec: 3, mtimeNsec: 4, ctimeSec: 5, ctimeNsec: 6, birth: null });
    const bad = Uint32Array.from(w); bad[7] = 1_000_000_000; // nanoseconds out of range
    assert.equal(decodeExactTimes(bad), null);
    const flags = Uint32Array.from(w); flags[1] = 0x80;
    assert.equal(decodeExactTimes(flags), null);
    assert.equal(w[0], EXACT_TIMES_MAGIC);
    assert.equal(Buffer.from(w.buffer).subarray(0, 4).toString('latin1'), 'SDT1');
  });

  test('through encodeHeader and the header template: same bytes, only spare words 0..13, checksum valid', () => {
    fc.assert(fc.property(exactTimes, (t) => {
      const h = emptyHeader();
      h.type = 2; h.inumber = 12; h.ntrec = 10;
      h.inode = { ...h.inode, mode: 0o100644, size: 5, mtime: 7, exact: t };
      const a = Buffer.alloc(TP_BSIZE);
      encodeHeader(h, a);
      assert.ok(checksumOk(a, 0, 'le'));
      const back = decodeHeader(a, 0, 'le');
      assert.deepEqual(back.inode.exact, t);
      // Without exact times the header is the same except the extension's words (and the checksum).
      const plain = Buffer.alloc(TP_BSIZE);
      encodeHeader({ ...h, inode: { ...h.inode, exact: undefined } }, plain);
      for (let i = 0; i < TP_BSIZE; i += 4) {
        if (i === 28 || (i >= HEADER_SPARE_OFFSET && i < HEADER_SPARE_OFFSET + 4 * EXACT_TIMES_WORDS)) continue;
        assert.equal(a.readUInt32LE(i), plain.readUInt32LE(i), `word at ${i}`);
      }
      assert.equal(decodeHeader(plain, 0, 'le').inode.exact, undefined);
    }), { numRuns: 50 });
  });

  test('the template writes the same bytes as encodeHeader', () => {
    const vol = { date: 1, ddate: 0, volume: 1, level: 0, label: 'x', filesys: '/', dev: '/dev/x', host: 'h', ntrec: 10, maxino: 100 };
    const tpl = new HeaderTemplate(vol);
    const t: ExactTimes = { atimeSec: -5, atimeNsec: 1, mtimeSec: 2 ** 33, mtimeNsec: 999_999_999, ctimeSec: 3, ctimeNsec: 4, birth: { sec: 1_600_000_000, nsec: 123 } };
    const inode = { mode: 0o100600, nlink: 1, size: 0, atime: 0, atimeUsec: 0, mtime: 0xffffffff, mtimeUsec: 999999, ctime: 3, ctimeUsec: 0, rdev: 0, flags: 0, blocks: 0, uid: 0, gid: 0, exact: t };
    const buf = Buffer.alloc(2 * TP_BSIZE);
    tpl.write(buf, 0, 2, 40, inode, 0, null, 0);
    tpl.write(buf, TP_BSIZE, 2, 41, { ...inode, exact: undefined }, 0, null, 0);
    assert.deepEqual(decodeHeader(buf, 0, 'le').inode.exact, t);
    assert.equal(decodeHeader(buf, TP_BSIZE, 'le').inode.exact, undefined, 'the next header does not inherit the words');
    assert.ok(checksumOk(buf, 0, 'le') && checksumOk(buf, TP_BSIZE, 'le'));
  });

  test('formatExactTime', () => {
    assert.equal(formatExactTime(1700000000, 5), '1700000000.000000005');
    assert.equal(formatExactTime(-1, 999_999_999), '-1.999999999');
  });
});
