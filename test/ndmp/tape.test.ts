/** The TAPE service against the real `ndmjob -o test-tape` (all 123 checks of the v4 rules). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { finalLine, ndmjob, skipNdmjob, startServer, testTapeShims } from './helpers/harness.js';

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
