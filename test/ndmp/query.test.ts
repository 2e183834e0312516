/** `ndmjob -q` against the server: host, server, connection types, butype dump, volumes, tapes; TEXT and MD5 logins. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as os from 'node:os';
import { ndmjob, skipNdmjob, startServer } from './helpers/harness.js';

test('ndmjob -q shows everything the server offers, over TEXT and MD5 logins', { skip: skipNdmjob }, async () => {
  const h = await startServer();
  try {
    const r = await ndmjob(['-q', '-D', h.agent('t'), '-T', h.agent('m'), '-v']);
    const out = r.stdout;
    assert.match(out, new RegExp(`hostname\\s+${os.hostname()}`));
    assert.match(out, /vendor\s+snapdump/);
    assert.match(out, /auths\s+\(2\)\s+NDMP4_AUTH_TEXT NDMP4_AUTH_MD5/);
    assert.match(out, /addr_types \(2\)\s+NDMP4_ADDR_LOCAL NDMP4_ADDR_TCP/);
    assert.match(out, /Backup type info of dump format/);
    assert.match(out, /set\s+LEVEL=0/);
    assert.match(out, /set\s+UPDATE=Y/);
    assert.match(out, new RegExp(`File system ${h.dir}/vol`));
    assert.match(out, /tape snapdump virtual tape/);
    assert.match(out, /device\s+tape0/);
    assert.match(out, /Tape Agent 127\.0\.0\.1 NDMPv4/);
    assert.doesNotMatch(out, /failed/i);
    assert.match(out, /SESS "Operation complete"/);
  } finally {
    await h.close();
  }
});

test('a wrong password is refused (TEXT and MD5)', { skip: skipNdmjob }, async () => {
  const h = await startServer();
  try {
    for (const flag of ['t', 'm']) {
      const r = await ndmjob(['-q', '-D', `127.0.0.1:${h.port}/4${flag},ndmp,wrong`, '-v']);
      assert.match(r.output, /NOT_AUTHORIZED|auth.*fail|failed/i, r.output);
      assert.doesNotMatch(r.output, /Backup type info/);
    }
    assert.ok(h.logs.some((l) => /authentication failed for "ndmp"/.test(l)));
  } finally {
    await h.close();
  }
});
