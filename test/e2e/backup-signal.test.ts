/** SIGINT/SIGTERM during a backup: a clean stop, exit status 2, no image left that looks complete. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pseudoRandom, removeTree, tempDir } from '../helpers/tree.js';
import { snapdumpBin } from '../helpers/cli.js';

describe('signals during a backup', () => {
  let work: string;
  let src: string;
  before(() => {
    work = tempDir('signal');
    src = path.join(work, 'src');
    fs.mkdirSync(src);
    // Enough data that the file phase is still running when the signal arrives.
    const chunk = pseudoRandom(1 << 20, 9);
    for (let i = 0; i < 48; i++) fs.writeFileSync(path.join(src, `f${i}`), chunk);
  });
  after(() => removeTree(work));

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} stops cleanly with ERR_ABORTED and removes the partial image`, async () => {
      const out = path.join(work, `${signal}.dump`);
      const child = spawn(process.execPath, [snapdumpBin, 'backup', src, '-f', out, '--json', '--threads', '1', '--no-history'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      let sent = false;
      child.stdout.on('data', (d: Buffer) => {
        if (!sent && d.toString().includes('"phase":"directories"')) { sent = true; child.kill(signal); }
      });
      const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      assert.ok(sent, 'the backup reached the directory phase');
      assert.equal(status, 2, stderr);
      assert.match(stderr, /ERR_ABORTED/);
      assert.equal(fs.existsSync(out), false);
      assert.deepEqual(fs.readdirSync(work).filter((n) => n.includes('partial')), []);
    });
  }
});
