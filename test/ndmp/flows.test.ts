/**
 * ndmjob flows beyond the plain backup and restore: `-o swap-connect` (the reverse direction:
 * DATA_LISTEN on the data side, MOVER_CONNECT from the mover) over one connection (LOCAL) and
 * over two (TCP), and tape labels (`-o init-labels -m`, `-l`, `-c/-x -m LABEL`, where the image
 * is the second tape file, after the label). ndmjob is judged by its output; restored trees are
 * compared with their source.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { snapdump } from '../helpers/cli.js';
import { buildFullTree, compareTrees, snapshotTree } from '../helpers/tree.js';
import { ndmjob, skipNdmjob, startServer } from './helpers/harness.js';

const ignore = (rel: string) => rel === '.snapdump-restore.json';
const sameTree = (src: string, dest: string) =>
  assert.deepEqual(compareTrees(snapshotTree(src), snapshotTree(dest, { ignore }), { mtimeResolutionNs: 1000n }), []);

function assertOkay(out: string, what: string): void {
  assert.match(out, /SESS "Operation ended OKAY"/, `${what}:\n${out.slice(-2500)}`);
  assert.doesNotMatch(out, /Operation ended (questionably|in failure)|had problems/, `${what}:\n${out.slice(-2500)}`);
}

/** The requests ndmjob sent, in order, from its -v×6 trace (`#D "C> NDMP4_DATA_LISTEN 3"`). */
function requests(out: string): string[] {
  return [...out.matchAll(/^(#[DT]) "C> NDMP\d_(\w+) \d+"/gm)].map((m) => `${m[1]} ${m[2]}`);
}

const TRACE = ['-v', '-v', '-v', '-v', '-v', '-v'];

test('ndmjob -o swap-connect: backup and restore with DATA_LISTEN + MOVER_CONNECT, LOCAL and TCP', { skip: skipNdmjob }, async () => {
  const h = await startServer();
  try {
    const vol = path.join(h.dir, 'vol');
    const src = path.join(vol, 'src');
    buildFullTree(src);
    for (const [kind, agents] of [['LOCAL', ['-D', h.agent('t')]], ['TCP', ['-D', h.agent('t'), '-T', h.agent('m')]]] as const) {
      const idx = path.join(h.dir, `${kind}.idx`);
      const c = await ndmjob(['-c', '-o', 'swap-connect', ...agents, '-B', 'dump', '-C', src, '-f', 'tape0', '-I', idx, '-E', 'UPDATE=n', ...TRACE], { cwd: h.dir });
      assertOkay(c.output, `${kind} swap-connect backup`);
      const sent = requests(c.output);
      // The reverse direction: the data side listens, the mover connects to it; nothing else sets up the connection.
      const dataSide = '#D';
      const tapeSide = kind === 'LOCAL' ? '#D' : '#T';
      assert.ok(sent.includes(`${dataSide} DATA_LISTEN`) && sent.includes(`${tapeSide} MOVER_CONNECT`), sent.join('\n'));
      assert.ok(sent.indexOf(`${dataSide} DATA_LISTEN`) < sent.indexOf(`${tapeSide} MOVER_CONNECT`));
      assert.ok(!sent.some((r) => /MOVER_LISTEN|DATA_CONNECT/.test(r)), sent.join('\n'));
      assert.match(c.output, kind === 'LOCAL' ? /addr_type=NDMP4_ADDR_LOCAL/ : /addr_type=NDMP4_ADDR_TCP/);

      // Restore whole, and a DAR selection (over TCP the data service asks for ranges with
      // NOTIFY_DATA_READ, which ndmjob turns into MOVER_READ on the mover it connected).
      const whole = path.join(vol, `whole-${kind}`);
      fs.mkdirSync(whole);
      const x = await ndmjob(['-x', '-o', 'swap-connect', ...agents, '-B', 'dump', '-f', 'tape0', '-C', whole, '-J', idx, ...TRACE], { cwd: h.dir });
      assertOkay(x.output, `${kind} swap-connect restore`);
      assert.ok(requests(x.output).includes(`${tapeSide} MOVER_CONNECT`));
      sameTree(src, whole);
      const sel = path.join(vol, `sel-${kind}`);
      fs.mkdirSync(sel);
      const xs = await ndmjob(['-x', '-o', 'swap-connect', ...agents, '-B', 'dump', '-f', 'tape0', '-C', sel, '-J', idx, 'small.txt', '-v'], { cwd: h.dir });
      assertOkay(xs.output, `${kind} swap-connect selective restore`);
      assert.match(xs.output, /direct access recovery/);
      assert.deepEqual(fs.readFileSync(path.join(sel, 'small.txt')), fs.readFileSync(path.join(src, 'small.txt')));
    }
    assert.equal(h.server.context.tapesInUse.size, 0);
  } finally {
    await h.close();
  }
});

test('tape labels: init-labels writes one, -l reads it, -c/-x -m check it and put the image after it', { skip: skipNdmjob }, async () => {
  const h = await startServer();
  try {
    const vol = path.join(h.dir, 'vol');
    const src = path.join(vol, 'src');
    buildFullTree(src);
    const tape = path.join(h.dir, 'tape0');
    const tapeAgent = ['-T', h.agent('t')];

    const init = await ndmjob(['-o', 'init-labels', ...tapeAgent, '-f', 'tape0', '-m', 'VOL001', '-v'], { cwd: h.dir });
    assert.match(init.output, /Writing tape label 'VOL001'/, init.output);
    assert.match(init.output, /SESS "Operation complete"$/m);
    // The label is tape file 0: one 512-byte record, then the filemarks.
    const label = snapdump(['vtape-export', '-f', tape, '--tape-file', '0']);
    assert.equal(label.status, 0, label.stderr);
    assert.equal(label.stdout.length, 512);
    assert.match(label.stdout.toString('latin1'), /^##ndmjob -m VOL001\n/);

    // -l reads it back (ndmjob reports "had problems" after any -l; the label is what counts).
    const list = await ndmjob(['-l', ...tapeAgent, '-f', 'tape0', '-v'], { cwd: h.dir });
    assert.match(list.output, /^ME "VOL001"$/m, list.output);

    // A backup naming the label: checked, then written after it (the index says tape file 1).
    const idx = path.join(h.dir, 'label.idx');
    const c = await ndmjob(['-c', '-D', h.agent('t'), '-B', 'dump', '-C', src, '-f', 'tape0', '-m', 'VOL001', '-I', idx, '-E', 'UPDATE=n', '-v'], { cwd: h.dir });
    assertOkay(c.output, 'labelled backup');
    assert.match(c.output, /Checking tape label, expect 'VOL001'/);
    assert.match(fs.readFileSync(idx, 'utf8'), /^CM 01 VOL001\+1\/\d+K$/m);
    // The label survived and the image is tape file 1, a plain dump image.
    assert.match(snapdump(['vtape-export', '-f', tape, '--tape-file', '0']).stdout.toString('latin1'), /^##ndmjob -m VOL001\n/);
    const image = path.join(h.dir, 'image.dump');
    assert.equal(snapdump(['vtape-export', '-f', tape, '--tape-file', '1', '-o', image]).status, 0);
    const viaCli = path.join(vol, 'via-cli');
    const r = snapdump(['restore', '-f', image, '-C', viaCli, '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    sameTree(src, viaCli);

    // The wrong label: refused before anything is written.
    const before = fs.readFileSync(tape);
    const wrong = await ndmjob(['-c', '-D', h.agent('t'), '-B', 'dump', '-C', src, '-f', 'tape0', '-m', 'VOL002', '-E', 'UPDATE=n', '-v'], { cwd: h.dir });
    assert.match(wrong.output, /Label mismatch, expected -m'VOL002', got -m'VOL001'/, wrong.output.slice(-2000));
    assert.doesNotMatch(wrong.output, /Operation ended OKAY/);
    assert.deepEqual(fs.readFileSync(tape), before);

    // Restore through the label (ndmjob skips tape file 0 with FSF 1).
    const dest = path.join(vol, 'restored');
    fs.mkdirSync(dest);
    const x = await ndmjob(['-x', '-D', h.agent('t'), '-B', 'dump', '-f', 'tape0', '-m', 'VOL001', '-C', dest, '-J', idx, '-v'], { cwd: h.dir });
    assertOkay(x.output, 'labelled restore');
    sameTree(src, dest);
    assert.equal(h.server.context.tapesInUse.size, 0);
  } finally {
    await h.close();
  }
});
