import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeFileList, encodeFileList, type FileListEntry } from '../../src/context/file-list.js';
import { isSnapdumpError } from '../../src/errors.js';

const TYPES = [0o100000, 0o120000, 0o010000, 0o020000, 0o060000, 0o140000];

describe('file list codec', () => {
  it('round-trips any ascending list', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 3, max: 0xffffffff }), { maxLength: 200 }), fc.array(fc.constantFrom(...TYPES), { minLength: 200, maxLength: 200 }), (inos, types) => {
      const list: FileListEntry[] = [...inos].sort((a, b) => a - b).map((ino, i) => ({ ino, srcIno: ino * 3 + 2 ** 40, type: types[i]! }));
      assert.deepEqual(decodeFileList(encodeFileList(list), 'f'), list);
    }));
  });

  it('rejects damage with ERR_STATE naming the file', () => {
    const good = encodeFileList([{ ino: 5, srcIno: 5, type: 0o100000 }, { ino: 9, srcIno: 9, type: 0o120000 }]);
    const cases: Buffer[] = [Buffer.alloc(3), good.subarray(0, good.length - 1), Buffer.concat([good, Buffer.alloc(1)])];
    const badMagic = Buffer.from(good); badMagic[0] ^= 1; cases.push(badMagic);
    const unordered = Buffer.from(good); unordered.writeUInt32LE(10, 16); cases.push(unordered);
    for (const c of cases) {
      assert.throws(() => decodeFileList(c, '/x/ctx.files'), (e) => isSnapdumpError(e) && e.code === 'ERR_STATE' && e.message.includes('/x/ctx.files'));
    }
  });
});
