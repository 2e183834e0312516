/**
 * The two in-kernel copies at explicit offsets: copy_file_range (the backup's tape sink) and
 * sendfile (restore's large files, which works between file systems).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import * as sysx from '../../src/native/sysx.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'copy-range-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const src = path.join(dir, 'src');
const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) & 0xff));
fs.writeFileSync(src, bytes);

for (const [name, copy] of [['sendfileAt', sysx.sendfileAt], ['copyFileRange', sysx.copyFileRange]] as const) {
  test(`${name}: bytes from one offset to another, short at the end of the source, errors coded`, () => {
    const out = path.join(dir, `out-${name}`);
    const fin = fs.openSync(src, 'r');
    const fout = fs.openSync(out, 'w+');
    try {
      assert.equal(copy(fin, 1000, fout, 5000, 200_000), 200_000);
      assert.equal(copy(fin, 290_000, fout, 205_000, 50_000), 10_000, 'stops at the end of the source');
      const got = fs.readFileSync(out);
      assert.equal(got.length, 215_000);
      assert.ok(got.subarray(0, 5000).every((b) => b === 0), 'nothing before the output offset');
      assert.ok(got.subarray(5000, 205_000).equals(bytes.subarray(1000, 201_000)));
      assert.ok(got.subarray(205_000).equals(bytes.subarray(290_000)));
      // The input's own position never moves (the reader keeps reading where it was).
      const head = Buffer.alloc(4);
      assert.equal(fs.readSync(fin, head, 0, 4, null), 4);
      assert.ok(head.equals(bytes.subarray(0, 4)));
      assert.throws(() => copy(fin, 0, 987654, 0, 10), { code: 'EBADF' });
      assert.throws(() => copy(fin, -1, fout, 0, 10), { code: 'ERR_OUT_OF_RANGE' });
    } finally {
      fs.closeSync(fin);
      fs.closeSync(fout);
    }
  });
}
