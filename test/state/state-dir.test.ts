/** The state directory: default location, validation, atomic replacement of its files. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { atomicWrite, defaultStateDir, openStateDir } from '../../src/state/state-dir.js';
import { recordDump } from '../../src/state/dumpdates.js';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'snapdump-statedir-'));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
const isRoot = process.getuid?.() === 0;

describe('defaultStateDir', () => {
  it('SNAPDUMP_STATE wins, then root, then XDG_STATE_HOME, then ~/.local/state', () => {
    assert.equal(defaultStateDir({ env: { SNAPDUMP_STATE: '/x/y', XDG_STATE_HOME: '/xdg' }, uid: 0 }), '/x/y');
    assert.equal(defaultStateDir({ env: { XDG_STATE_HOME: '/xdg' }, uid: 0 }), '/var/lib/snapdump');
    assert.equal(defaultStateDir({ env: { XDG_STATE_HOME: '/xdg' }, uid: 1000, home: '/home/u' }), '/xdg/snapdump');
    assert.equal(defaultStateDir({ env: {}, uid: 1000, home: '/home/u' }), '/home/u/.local/state/snapdump');
    assert.equal(defaultStateDir({ env: { XDG_STATE_HOME: 'relative' }, uid: 1000, home: '/home/u' }), '/home/u/.local/state/snapdump',
      'a relative XDG_STATE_HOME is ignored (XDG spec)');
    assert.equal(defaultStateDir({ env: { SNAPDUMP_STATE: 'rel' }, uid: 1000 }), path.resolve('rel'));
  });
});

describe('openStateDir', () => {
  it('creates a missing directory (0700) only when asked', async () => {
    const dir = path.join(tmpRoot, 'a', 'b');
    await assert.rejects(openStateDir(dir, { create: false }), { code: 'ERR_STATE', message: /does not exist/ });
    assert.equal(await openStateDir(dir, { create: true }), dir);
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    assert.equal(await openStateDir(dir, { create: false }), dir);
  });

  it('a file is not a state directory', async () => {
    const file = path.join(tmpRoot, 'plain');
    fs.writeFileSync(file, '');
    await assert.rejects(openStateDir(file, { create: true }), { code: 'ERR_STATE', message: /cannot create state directory/ });
    await assert.rejects(openStateDir(file, { create: false }), { code: 'ERR_STATE', message: /is not a directory/ });
  });
});

describe('atomicWrite', () => {
  it('replaces the content and leaves no temp file', async () => {
    const dir = fs.mkdtempSync(path.join(tmpRoot, 'w-'));
    const file = path.join(dir, 'f');
    await atomicWrite(file, 'one\n');
    await atomicWrite(file, 'two\n');
    assert.equal(fs.readFileSync(file, 'utf8'), 'two\n');
    assert.deepEqual(fs.readdirSync(dir), ['f']);
  });

  it('a failed rename leaves the target untouched and removes the temp file', async () => {
    const dir = fs.mkdtempSync(path.join(tmpRoot, 'w-'));
    const target = path.join(dir, 'busy');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'inside'), 'x'); // a non-empty directory cannot be renamed over
    await assert.rejects(atomicWrite(target, 'data'), (e: Error & { code?: string }) => e.code === 'ERR_STATE' && e.message.includes(target));
    assert.deepEqual(fs.readdirSync(dir), ['busy']);
  });

  it('a reader never sees a partial file while a writer keeps replacing it', async () => {
    const dir = fs.mkdtempSync(path.join(tmpRoot, 'w-'));
    const file = path.join(dir, 'f');
    const big = (c: string) => c.repeat(256 * 1024);
    await atomicWrite(file, big('a'));
    let done = false;
    const writer = (async () => {
      for (let i = 0; i < 20; i++) await atomicWrite(file, big(i % 2 ? 'a' : 'b'));
      done = true;
    })();
    while (!done) {
      const text = fs.readFileSync(file, 'utf8');
      assert.ok(text === big('a') || text === big('b'), `a whole file, not ${text.length} bytes`);
      await new Promise((r) => setImmediate(r));
    }
    await writer;
  });
});

describe('an unwritable state directory', () => {
  it('is a clear ERR_STATE error, and nothing is written there (no temp file)', () => {
    const dir = fs.mkdtempSync(path.join(tmpRoot, 'ro-'));
    fs.writeFileSync(path.join(dir, 'dumpdates'), '/a\t0\t1767225600\t2026-01-01T00:00:00Z\n');
    const before = fs.readdirSync(dir).sort();
    // Root may write anywhere: the child then runs as nobody; otherwise the directory is made read-only.
    fs.chmodSync(tmpRoot, 0o755);
    fs.chmodSync(dir, 0o555);
    const mod = (m: string) => new URL(`../../src/state/${m}.js`, import.meta.url).href;
    const script = `
      import { recordDump } from ${JSON.stringify(mod('dumpdates'))};
      import { openStateDir } from ${JSON.stringify(mod('state-dir'))};
      const out = [];
      for (const f of [() => openStateDir(process.argv[1], { create: false }),
                       () => recordDump(process.argv[1], { name: '/b', level: 0, date: 1767225600 }),
                       () => recordDump(process.argv[1] + '/sub', { name: '/b', level: 0, date: 1767225600 })]) {
        try { await f(); out.push({ ok: true }); } catch (e) { out.push({ code: e.code, message: e.message }); }
      }
      console.log(JSON.stringify(out));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, dir],
      { encoding: 'utf8', ...(isRoot ? { uid: 65534, gid: 65534 } : {}) });
    fs.chmodSync(dir, 0o755);
    assert.equal(r.status, 0, r.stderr);
    const [open, record, create] = JSON.parse(r.stdout) as Array<{ code: string; message: string }>;
    assert.equal(open!.code, 'ERR_STATE');
    assert.match(open!.message, new RegExp(`state directory ${dir} is not writable`));
    assert.equal(record!.code, 'ERR_STATE');
    assert.match(record!.message, /is not writable/);
    assert.equal(create!.code, 'ERR_STATE');
    assert.match(create!.message, /cannot create state directory/);
    assert.deepEqual(fs.readdirSync(dir).sort(), before);
  });

  it('recordDump never leaves a temp file when the write fails after the lock', async () => {
    const dir = fs.mkdtempSync(path.join(tmpRoot, 'busy-'));
    fs.mkdirSync(path.join(dir, 'dumpdates', 'x'), { recursive: true }); // the state file is a directory
    await assert.rejects(recordDump(dir, { name: '/a', level: 0, date: 1767225600 }), { code: 'ERR_STATE' });
    assert.deepEqual(fs.readdirSync(dir), ['dumpdates']);
  });
});
