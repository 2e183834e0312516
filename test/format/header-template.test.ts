/** The header template's checksum: the aligned (typed array) and unaligned (DataView) paths agree. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HeaderTemplate } from '../../src/format/header-template.js';
import { checksumOk, decodeHeader } from '../../src/format/header.js';
import { TP_BSIZE } from '../../src/format/constants.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u16 = fc.integer({ min: 0, max: 0xffff });

test('a header written at an aligned and at an unaligned offset has the same bytes and a valid checksum', () => {
  const tpl = new HeaderTemplate({ date: 1_700_000_000, ddate: 0, volume: 1, level: 0, label: 'x', filesys: '/', dev: '/dev/x', host: 'h', ntrec: 10, maxino: 1000 });
  fc.assert(fc.property(u32, u16, u32, u32, u32, fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 1, max: 3 }),
    (ino, mode, uid, mtime, flags, size, shift) => {
      const inode = { mode, nlink: 1, size, atime: 0, atimeUsec: 0, mtime, mtimeUsec: 0, ctime: mtime, ctimeUsec: 0, rdev: 0, flags, blocks: 8, uid, gid: uid, exact: undefined };
      const aligned = Buffer.alloc(2 * TP_BSIZE);
      const odd = Buffer.alloc(2 * TP_BSIZE + 4);
      tpl.write(aligned, TP_BSIZE, 2, ino, inode, 7, null, 0);
      tpl.write(odd, TP_BSIZE + shift, 2, ino, inode, 7, null, 0);
      assert.ok(aligned.subarray(TP_BSIZE).equals(odd.subarray(TP_BSIZE + shift, 2 * TP_BSIZE + shift)));
      assert.ok(checksumOk(aligned, TP_BSIZE, 'le'));
      assert.equal(decodeHeader(aligned, TP_BSIZE, 'le').inumber, ino);
    }), { numRuns: 200 });
});
