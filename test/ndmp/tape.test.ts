/** The TAPE service against the real `ndmjob -o test-tape` (all 123 checks of the v4 rules). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { finalLine, ndmjob, partialTestTapeShims, skipNdmjob, startServer, testTapeShims } from './helpers/harness.js';

test('ndmjob -o test-tape passes with fail=0 and warn=0', { skip: skipNdmjob }, async () => {
  const h = await startServer();
  try {
    const r = await ndmjob(['-o', 'test-tape', '-T', h.agent('t'), '-f', 'tape0', '-v'], { preload: testTapeShims() });
    const final = finalLine(r.output);
    assert.ok(final, r.output.slice(-3000));
    assert.match(final, /FINAL test-tape Passed -- pass=\d+ warn=0 fail=0/, r.output.slice(-3000));
    for (const phase of ['T-OC', 'T-BGS', 'T-BW', 'T-BR', 'T-BWR', 'T-WRITE', 'T-READ', 'T-MTIO']) {
      assert.match(r.output, new RegExp(`Test ${phase} Passed -- pass=\\d+ warn=0 fail=0`), phase);
    }
    // The tape is released at the end: another session can open it.
    assert.equal(h.server.context.tapesInUse.size, 0);
  } finally {
    await h.close();
  }
});

test('the tape can also be named by its file path; unknown devices are NO_DEVICE', { skip: skipNdmjob }, async () => {
  const h = await startServer();
  try {
    const r = await ndmjob(['-o', 'test-tape', '-T', h.agent('m'), '-f', `${h.dir}/tape0`, '-v'], { preload: testTapeShims() });
    assert.match(finalLine(r.output) ?? r.output.slice(-2000), /Passed -- pass=\d+ warn=0 fail=0/);
  } finally {
    await h.close();
  }
});

test('the extra test-tape shim repairs client bugs: without each fix test-tape fails whatever this server returns', { skip: skipNdmjob }, async () => {
  const h = await startServer();
  try {
    const shims = partialTestTapeShims();
    // Without fix 1 (signed char compare in T-BWR): everything before passes, T-BWR's compare fails.
    const a = await ndmjob(['-o', 'test-tape', '-T', h.agent('t'), '-f', 'tape0', '-v'], { preload: shims.gmalloc0 });
    for (const phase of ['T-OC', 'T-BGS', 'T-BW', 'T-BR']) assert.match(a.output, new RegExp(`Test ${phase} Passed -- pass=\\d+ warn=0 fail=0`), phase);
    assert.match(a.output, /T-BWR #23 -- Failed NDMP4_TAPE_READ\/NDMP9_NO_ERR Failed compare/, a.output.slice(-2000));
    // Without fix 2 (uninitialised struct padding in the record pattern): T-WRITE passes, T-READ's
    // compare fails, and only in the padding bytes (offsets 4..7 of each 16-byte unit).
    const b = await ndmjob(['-o', 'test-tape', '-T', h.agent('t'), '-f', 'tape0', '-v', '-v', '-v', '-v', '-v', '-v'], { preload: shims.withoutFillDataFix });
    assert.match(b.output, /Test T-BWR Passed -- pass=\d+ warn=0 fail=0/);
    assert.match(b.output, /Test T-WRITE Passed -- pass=\d+ warn=0 fail=0/);
    assert.match(b.output, /T-READ #\d+ -- Failed .*Failed compare/, b.output.slice(-2000));
    const offsets = [...b.output.matchAll(/DATA "(\d+): 0x[0-9a-f]+ => 0x[0-9a-f]+"/g)].map((m) => Number(m[1]));
    assert.ok(offsets.length > 0 && offsets.every((o) => o % 16 >= 4 && o % 16 < 8), offsets.join(','));
  } finally {
    await h.close();
  }
});
