/** The cross-process state lock: exclusion, stale locks, timeouts, and no lost dumpdates update. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { withLock } from '../../src/state/state-dir.js';
import { lockPath } from '../../src/state/lock.js';
import { readDumpdates } from '../../src/state/dumpdates.js';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'snapdump-lock-'));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
const freshDir = () => fs.mkdtempSync(path.join(tmpRoot, 'd-'));
const bootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

function plantLock(dir: string, fields: Record<string, unknown>): string {
  const file = lockPath(dir, 'dumpdates');
  fs.writeFileSync(file, JSON.stringify({
    pid: process.pid, host: os.hostname(), bootId, start: null, acquired: '2026-01-01T00:00:00.000Z', token: 'planted', ...fields,
  }) + '\n');
  return file;
}

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid!;
}

describe('withLock', () => {
  it('returns the result, releases on success and on a throw', async () => {
    const dir = freshDir();
    assert.equal(await withLock(dir, 'dumpdates', async () => 42), 42);
    assert.deepEqual(fs.readdirSync(dir), []);
    await assert.rejects(withLock(dir, 'dumpdates', async () => { throw new Error('boom'); }), /boom/);
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it('excludes a second holder in the same process until the first releases', async () => {
    const dir = freshDir();
    const order: string[] = [];
    let release!: () => void;
    const first = withLock(dir, 'dumpdates', async () => {
      order.push('first in');
      await new Promise<void>((r) => { release = r; });
      order.push('first out');
    });
    await new Promise((r) => setTimeout(r, 20));
    const second = withLock(dir, 'dumpdates', async () => { order.push('second in'); });
    await new Promise((r) => setTimeout(r, 50));
    release();
    await Promise.all([first, second]);
    assert.deepEqual(order, ['first in', 'first out', 'second in']);
  });

  it('a live holder makes a waiter fail with ERR_LOCKED after the timeout, naming it', async () => {
    const dir = freshDir();
    await withLock(dir, 'dumpdates', async () => {
      const t = Date.now();
      await assert.rejects(withLock(dir, 'dumpdates', async () => 0, { timeoutMs: 150 }),
        (e: Error & { code?: string }) => e.code === 'ERR_LOCKED' && e.message.includes(`pid ${process.pid} on ${os.hostname()}`));
      assert.ok(Date.now() - t >= 150);
    });
  });

  it('breaks a stale lock whose pid is dead on this host', async () => {
    const dir = freshDir();
    const file = plantLock(dir, { pid: deadPid() });
    assert.equal(await withLock(dir, 'dumpdates', async () => fs.readFileSync(file, 'utf8').includes('planted'), { timeoutMs: 1000 }), false);
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it('breaks a lock from an earlier boot, and one whose pid now belongs to a younger process', async () => {
    for (const fields of [{ bootId: '00000000-0000-0000-0000-000000000000' }, { start: '1' }]) {
      const dir = freshDir();
      plantLock(dir, fields);
      await withLock(dir, 'dumpdates', async () => undefined, { timeoutMs: 1000 });
      assert.deepEqual(fs.readdirSync(dir), [], JSON.stringify(fields));
    }
  });

  it('never breaks a lock of another host, nor a fresh unreadable one', async () => {
    const dir = freshDir();
    const file = plantLock(dir, { pid: deadPid(), host: 'another-host.invalid' });
    await assert.rejects(withLock(dir, 'dumpdates', async () => 0, { timeoutMs: 100 }), { code: 'ERR_LOCKED', message: /another-host\.invalid/ });
    fs.writeFileSync(file, '');
    await assert.rejects(withLock(dir, 'dumpdates', async () => 0, { timeoutMs: 100 }), { code: 'ERR_LOCKED', message: /unreadable/ });
    // An empty lock file a minute old is what a crash leaves behind: broken.
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(file, old, old);
    await withLock(dir, 'dumpdates', async () => undefined, { timeoutMs: 1000 });
    assert.deepEqual(fs.readdirSync(dir), []);
  });
});

describe('concurrent recordDump from several processes', () => {
  it('never loses an entry', async () => {
    const dir = freshDir();
    const procs = 4;
    const each = 20;
    const mod = new URL('../../src/state/dumpdates.js', import.meta.url).href;
    // Every child waits for the same start instant, so the processes really do overlap.
    const startAt = Date.now() + 300;
    const script = `
      import { recordDump } from ${JSON.stringify(mod)};
      const [dir, id, n, startAt] = process.argv.slice(1);
      await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));
      for (let j = 0; j < Number(n); j++) {
        await recordDump(dir, { name: '/p' + id + '/n' + j, level: j % 3, date: 1767225600 + j });
      }`;
    const runs = Array.from({ length: procs }, (_, i) => new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script, dir, String(i), String(each), String(startAt)],
        { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      child.on('close', (code) => resolve({ code, stderr }));
    }));
    for (const r of await Promise.all(runs)) assert.equal(r.code, 0, r.stderr);
    const entries = await readDumpdates(dir);
    assert.equal(entries.length, procs * each);
    const names = new Set(entries.map((e) => e.name));
    for (let i = 0; i < procs; i++) for (let j = 0; j < each; j++) assert.ok(names.has(`/p${i}/n${j}`), `/p${i}/n${j}`);
    assert.deepEqual(fs.readdirSync(dir), ['dumpdates'], 'no lock or temp file left');
  });
});
