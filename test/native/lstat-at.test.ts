/** lstatAt: a whole directory stat'ed through one descriptor, as the walk does it. */
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as sysx from '../../src/native/sysx.js';
import { STAT_FIELDS } from '../../src/native/sysx.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapdump-lstatat-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

it('fills every entry like lstatInto, symlinks not followed, errors per entry', () => {
  fs.writeFileSync(path.join(dir, 'file'), 'x'.repeat(1234));
  fs.symlinkSync('file', path.join(dir, 'link'));
  fs.mkdirSync(path.join(dir, 'sub'));
  const bad = Buffer.from([0x66, 0xff, 0x66]); // not UTF-8
  fs.writeFileSync(Buffer.concat([Buffer.from(dir + '/'), bad]), 'y');
  const names: Array<string | Buffer> = ['file', 'link', 'missing', 'sub', bad];
  const packed = Buffer.concat(names.flatMap((n) => [Buffer.from(n), Buffer.from([0])]));
  const stride = STAT_FIELDS + 1;
  const out = new Float64Array(2 + names.length * stride).fill(-1);
  const errors = new Int32Array(names.length).fill(-1);
  assert.equal(sysx.lstatAt(dir, packed, out, 2, stride, errors), names.length);
  assert.deepEqual([...errors], [0, 0, os.constants.errno.ENOENT, 0, 0]);
  const one = new Float64Array(STAT_FIELDS);
  names.forEach((n, i) => {
    if (errors[i] !== 0) return;
    sysx.lstatInto(Buffer.concat([Buffer.from(dir + '/'), Buffer.from(n)]), one);
    assert.deepEqual([...out.subarray(2 + i * stride, 2 + i * stride + STAT_FIELDS)], [...one], String(n));
  });
  assert.equal(out[2 + stride + 2]! & 0o170000, 0o120000, 'the symlink itself');
  assert.equal(out[0], -1, 'nothing before first');
  assert.throws(() => sysx.lstatAt(path.join(dir, 'nope'), packed, out, 0, stride, errors), { code: 'ENOENT' });
});
