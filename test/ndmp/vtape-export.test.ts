/**
 * An image written through NDMP onto a virtual tape, taken off with `snapdump vtape-export`,
 * is a plain dump image: the real Linux restore and `snapdump restore` read it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { snapdump } from '../helpers/cli.js';
import { buildFullTree, compareTrees, isRoot, run, snapshotTree } from '../helpers/tree.js';
import { ndmjob, skipNdmjob, startServer } from './helpers/harness.js';

const haveRestore = fs.existsSync('/usr/sbin/restore') || fs.existsSync('/sbin/restore');

test('an NDMP backup taken off the virtual tape is read by Linux restore and snapdump restore', { skip: skipNdmjob || (!haveRestore && 'needs Linux restore') || (!isRoot && 'needs root') }, async () => {
  const h = await startServer();
  try {
    const src = path.join(h.dir, 'vol', 'src');
    buildFullTree(src);
    const c = await ndmjob(['-c', '-D', h.agent('t'), '-B', 'dump', '-C', src, '-f', 'tape0', '-E', 'UPDATE=n', '-v'], { cwd: h.dir });
    assert.match(c.output, /Operation ended OKAY/, c.output.slice(-2000));
    const image = path.join(h.dir, 'image.dump');
    const ex = snapdump(['vtape-export', '-f', path.join(h.dir, 'tape0'), '-o', image]);
    assert.equal(ex.status, 0, ex.stderr);
    // The mover wrote 10 KiB records: the image is a whole number of them.
    assert.equal(fs.statSync(image).size % 10240, 0);
    const listing = run('restore', ['-t', '-f', image], { cwd: h.dir });
    assert.equal(listing.status, 0, listing.stderr);
    assert.match(listing.stdout.toString(), /\.\/small\.txt/);
    const viaLinux = path.join(h.dir, 'linux');
    fs.mkdirSync(viaLinux);
    const rr = run('restore', ['-r', '-y', '-f', image], { cwd: viaLinux });
    assert.equal(rr.status, 0, rr.stderr);
    assert.doesNotMatch(rr.stderr, /expected next file|Missing address|Mangled|error in EA|unknown file mode|resync/i, rr.stderr);
    fs.rmSync(path.join(viaLinux, 'restoresymtable'));
    const ignore = (rel: string) => rel === '.snapdump-restore.json';
    assert.deepEqual(compareTrees(snapshotTree(src), snapshotTree(viaLinux, { ignore }), { mtimeResolutionNs: 1000n }), []);
    const viaSnapdump = path.join(h.dir, 'snap');
    const sr = snapdump(['restore', '-f', image, '-C', viaSnapdump, '--quiet']);
    assert.equal(sr.status, 0, sr.stderr);
    assert.deepEqual(compareTrees(snapshotTree(src), snapshotTree(viaSnapdump, { ignore }), { mtimeResolutionNs: 1000n }), []);
    // Piped to standard output as well; a missing tape file is a clear error.
    assert.deepEqual(snapdump(['vtape-export', '-f', path.join(h.dir, 'tape0')]).stdout, fs.readFileSync(image));
    const missing = snapdump(['vtape-export', '-f', path.join(h.dir, 'tape0'), '--tape-file', '5']);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /ERR_SOURCE.*no tape file 5/);
  } finally {
    await h.close();
  }
});
