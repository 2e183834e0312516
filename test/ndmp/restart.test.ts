/**
 * A session that drops mid-backup (the DMA killed, the TCP connection closed) or a DATA_ABORT:
 * the operation aborts, the tape and the operation slot are released, and where the rules allow
 * (a LOCAL backup whose image starts a tape file of a virtual tape, stopped in the file phase
 * after a checkpoint) a restartable context stays, which `snapdump contexts list` shows and
 * `snapdump backup --restart ID` completes on the same tape file. Otherwise the log says why not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AddrType, AuthType, DataHalt, LogType, QUAD_ALL_ONES } from '../../src/ndmp/codec/constants.js';
import type { Decoded } from '../../src/ndmp/codec/message.js';
import { listContexts } from '../../src/context/context-store.js';
import { restartBackup } from '../../src/restart.js';
import { tapeFileBytes } from '../../src/tape/virtual-tape-resume.js';
import { snapdump } from '../helpers/cli.js';
import { compareTrees, isRoot, pseudoRandom, run, snapshotTree } from '../helpers/tree.js';
import { ndmjob, skipNdmjob, startServer, type Harness } from './helpers/harness.js';
import { RawClient } from './helpers/raw-client.js';

const haveRestore = fs.existsSync('/usr/sbin/restore') || fs.existsSync('/sbin/restore');
const ignore = (rel: string) => rel === '.snapdump-restore.json';
const sameTree = (src: string, dest: string) =>
  assert.deepEqual(compareTrees(snapshotTree(src), snapshotTree(dest, { ignore }), { mtimeResolutionNs: 1000n }), []);

/** 48 files of 256 KiB (incompressible): a file phase of many writes. */
function source(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < 48; i++) fs.writeFileSync(path.join(dir, `f${String(i).padStart(2, '0')}`), pseudoRandom(256 * 1024, i));
  return dir;
}

/**
 * The file phase slowed down (a pause after each write) and checkpointed at every write, so a
 * test can stop it half-way; the CLI children run without that.
 */
async function withSlowFilePhase<T>(fn: () => Promise<T>): Promise<T> {
  const saved = { delay: process.env.SNAPDUMP_TEST_WRITE_DELAY_MS, interval: process.env.SNAPDUMP_CHECKPOINT_MS };
  process.env.SNAPDUMP_TEST_WRITE_DELAY_MS = '150';
  process.env.SNAPDUMP_CHECKPOINT_MS = '0';
  try {
    return await fn();
  } finally {
    for (const [k, v] of [['SNAPDUMP_TEST_WRITE_DELAY_MS', saved.delay], ['SNAPDUMP_CHECKPOINT_MS', saved.interval]] as const) {
      if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
  }
}

function cliEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.SNAPDUMP_TEST_WRITE_DELAY_MS;
  delete env.SNAPDUMP_CHECKPOINT_MS;
  return env;
}

async function until<T>(what: string, probe: () => T | null | undefined | Promise<T | null | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const stateDir = (h: Harness) => path.join(h.dir, 'state');

async function checkpointed(h: Harness) {
  const { contexts } = await listContexts(stateDir(h));
  return contexts.find((c) => c.checkpoint !== null) ?? null;
}

/** Everything the session held is free again. */
async function released(h: Harness): Promise<void> {
  await until('the session to end', () => h.server.sessionCount === 0 || null);
  // A mover halted mid-write keeps the tape until that write is done (never half an entry).
  await until('the tape to be released', () => h.server.context.tapesInUse.size === 0 || null);
  assert.equal(h.server.context.operations.active, 0);
}

test('ndmjob killed mid-backup (SIGKILL): the backup aborts, the tape is freed, the context restarts to a complete image', { skip: skipNdmjob }, async () => {
  const h = await startServer();
  try {
    const src = source(path.join(h.dir, 'vol', 'src'));
    const tape = path.join(h.dir, 'tape0');
    let pid = 0;
    const job = withSlowFilePhase(async () => {
      const running = ndmjob(['-c', '-D', h.agent('t'), '-B', 'dump', '-C', src, '-f', 'tape0', '-E', 'LEVEL=0', '-v'], { cwd: h.dir, onSpawn: (p) => { pid = p; } });
      const ctx = await until('a checkpoint in the file phase', () => checkpointed(h));
      process.kill(pid, 'SIGKILL');
      await running;
      await until('the backup to stop', () => h.logs.find((l) => /data operation stopped/.test(l)));
      return ctx;
    });
    const ctx = await job;
    await released(h);
    const stopped = h.logs.find((l) => /data operation stopped/.test(l))!;
    assert.match(stopped, new RegExp(`restartable from its checkpoint: snapdump backup --restart ${ctx.id}`), stopped);

    // The CLI sees it: restartable, in pass IV, its image being tape file 0 of the virtual tape.
    const list = snapdump(['contexts', 'list', '--state', stateDir(h)], { env: cliEnv() });
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout.toString(), new RegExp(`^${ctx.id}\\s+0\\s+IV\\s+yes\\s+no\\s`, 'm'), list.stdout.toString());
    const show = snapdump(['contexts', 'show', ctx.id, '--state', stateDir(h)], { env: cliEnv() });
    assert.match(show.stdout.toString(), new RegExp(`Partial Image\\s+${tape.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, tape file 0 \\(10240-byte records\\)`));
    const { contexts } = await listContexts(stateDir(h));
    const kept = contexts.find((c) => c.id === ctx.id)!;
    const medium = { kind: 'virtual-tape' as const, path: tape, tapeFile: 0, recordSize: 10240 };
    assert.deepEqual(kept.medium, medium);
    const partialBytes = tapeFileBytes(medium);
    assert.ok(partialBytes >= kept.checkpoint!.offset + 1024);

    // Restarted through the CLI: the image is completed in place (and closed with two filemarks).
    const r = snapdump(['backup', '--restart', ctx.id, '--state', stateDir(h), '--quiet'], { env: cliEnv() });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual((await listContexts(stateDir(h))).contexts, []);
    // The image was cut back to the checkpoint and completed (its end, TS_END records, written now).
    assert.ok(tapeFileBytes(medium) >= kept.checkpoint!.offset + 1024);
    const dest = path.join(h.dir, 'vol', 'restored');
    const rr = snapdump(['restore', '-f', tape, '-C', dest, '--quiet'], { env: cliEnv() });
    assert.equal(rr.status, 0, rr.stderr);
    sameTree(src, dest);
    if (haveRestore && isRoot) {
      const image = path.join(h.dir, 'image.dump');
      assert.equal(snapdump(['vtape-export', '-f', tape, '-o', image], { env: cliEnv() }).status, 0);
      const t = run('restore', ['-t', '-f', image]);
      assert.equal(t.status, 0, t.stderr);
      assert.match(t.stdout.toString(), /\.\/f47/);
    }
    // ndmjob reads the completed image back too (no index: the window is the whole tape file).
    const viaNdmp = path.join(h.dir, 'vol', 'via-ndmp');
    fs.mkdirSync(viaNdmp);
    const x = await ndmjob(['-x', '-D', h.agent('t'), '-B', 'dump', '-f', 'tape0', '-C', viaNdmp, '-v'], { cwd: h.dir });
    assert.match(x.output, /Operation ended OKAY/, x.output.slice(-2000));
    sameTree(src, viaNdmp);
  } finally {
    await h.close();
  }
});

test('large files (runs the kernel copied onto the tape): ndmjob killed mid-backup, the restart cuts the tape back among the runs and completes the image', { skip: skipNdmjob }, async () => {
  const h = await startServer();
  try {
    const src = path.join(h.dir, 'vol', 'big');
    fs.mkdirSync(src, { recursive: true });
    for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(src, `big${i}`), pseudoRandom(2 * 1024 * 1024 + i * 3000, 100 + i));
    const tape = path.join(h.dir, 'tape0');
    let pid = 0;
    const ctx = await withSlowFilePhase(async () => {
      const running = ndmjob(['-c', '-D', h.agent('t'), '-B', 'dump', '-C', src, '-f', 'tape0', '-E', 'LEVEL=0', '-v'], { cwd: h.dir, onSpawn: (p) => { pid = p; } });
      const c = await until('a checkpoint in the file phase', () => checkpointed(h));
      process.kill(pid, 'SIGKILL');
      await running;
      await until('the backup to stop', () => h.logs.find((l) => /data operation stopped/.test(l)));
      return c;
    });
    await released(h);
    const copied = h.logs.map((l) => /of them copied from files in the kernel/.test(l) && Number(/, (\d+) of them/.exec(l)![1])).find((n) => n !== false);
    assert.ok(typeof copied === 'number' && copied > 0, h.logs.join('\n'));
    const r = snapdump(['backup', '--restart', ctx.id, '--state', stateDir(h), '--quiet'], { env: cliEnv() });
    assert.equal(r.status, 0, r.stderr);
    const dest = path.join(h.dir, 'vol', 'restored-big');
    const rr = snapdump(['restore', '-f', tape, '-C', dest, '--quiet'], { env: cliEnv() });
    assert.equal(rr.status, 0, rr.stderr);
    sameTree(src, dest);
    if (haveRestore && isRoot) {
      const image = path.join(h.dir, 'image-big.dump');
      assert.equal(snapdump(['vtape-export', '-f', tape, '-o', image], { env: cliEnv() }).status, 0);
      const viaLinux = path.join(h.dir, 'linux-big');
      fs.mkdirSync(viaLinux);
      const lr = run('restore', ['-r', '-y', '-f', image], { cwd: viaLinux });
      assert.equal(lr.status, 0, lr.stderr);
      fs.rmSync(path.join(viaLinux, 'restoresymtable'));
      sameTree(src, viaLinux);
    }
  } finally {
    await h.close();
  }
});

type Body = Record<string, unknown>;
const body = (m: Decoded): Body => (m.ok ? m.body : {}) as Body;

interface Dma {
  c: RawClient;
  posts: Decoded[];
  call(name: Parameters<RawClient['call']>[0], b: unknown): Promise<Body>;
  waitPost(name: string, match?: (b: Body) => boolean): Promise<Body>;
}

async function dma(port: number): Promise<Dma> {
  const c = await RawClient.connect(port);
  await c.next();
  const posts: Decoded[] = [];
  const d: Dma = {
    c, posts,
    call: async (name, b) => body(await c.call(name, b as never, posts)),
    async waitPost(name, match = () => true) {
      for (;;) {
        const i = posts.findIndex((p) => p.ok && p.name === name && match(body(p)));
        if (i >= 0) return body(posts.splice(i, 1)[0]!);
        const m = await c.next(60_000);
        if (!m) throw new Error(`closed before ${name}`);
        posts.push(m);
      }
    },
  };
  assert.equal((await d.call('CONNECT_CLIENT_AUTH', { auth_data: { type: AuthType.TEXT, body: { auth_id: 'ndmp', auth_password: 'ndmp' } } })).error, 0);
  return d;
}

const LOCAL = { type: AddrType.LOCAL, body: undefined };

async function startLocalBackup(d: Dma, src: string, window = QUAD_ALL_ONES): Promise<void> {
  assert.equal((await d.call('TAPE_OPEN', { device: 'tape0', mode: 1 })).error, 0);
  assert.equal((await d.call('MOVER_SET_WINDOW', { offset: 0n, length: window })).error, 0);
  assert.equal((await d.call('MOVER_LISTEN', { mode: 0, addr_type: AddrType.LOCAL })).error, 0);
  assert.equal((await d.call('DATA_CONNECT', { addr: LOCAL })).error, 0);
  assert.equal((await d.call('DATA_START_BACKUP', { butype_name: 'dump', env: [{ name: 'FILESYSTEM', value: src }, { name: 'UPDATE', value: 'y' }] })).error, 0);
}

test('DATA_ABORT in the file phase: halted ABORTED, the DMA is told the context id, the library restart completes it', async () => {
  const h = await startServer();
  try {
    const src = source(path.join(h.dir, 'vol', 'src'));
    const d = await dma(h.port);
    const ctx = await withSlowFilePhase(async () => {
      await startLocalBackup(d, src);
      const c = await until('a checkpoint in the file phase', () => checkpointed(h));
      assert.equal((await d.call('DATA_ABORT', undefined)).error, 0);
      assert.deepEqual(await d.waitPost('NOTIFY_DATA_HALTED'), { reason: DataHalt.ABORTED });
      return c;
    });
    const log = await d.waitPost('LOG_MESSAGE', (b) => /operation stopped/.test(String(b.entry)));
    assert.equal(log.log_type, LogType.WARNING);
    assert.match(String(log.entry), new RegExp(`restartable from its checkpoint: snapdump backup --restart ${ctx.id}`));
    // The DMA winds the session down as usual (the mover halted when the data connection went);
    // the tape is another session's to open then.
    await d.waitPost('NOTIFY_MOVER_HALTED');
    assert.equal((await d.call('MOVER_STOP', undefined)).error, 0);
    assert.equal((await d.call('DATA_STOP', undefined)).error, 0);
    assert.equal((await d.call('TAPE_CLOSE', undefined)).error, 0);
    assert.equal(h.server.context.tapesInUse.size, 0);
    assert.equal(h.server.context.operations.active, 0);
    d.c.close();
    await released(h);

    const summary = await restartBackup({ id: ctx.id, stateDir: stateDir(h) });
    assert.ok(summary.restartedAt && summary.restartedAt.offset > 0);
    const dest = path.join(h.dir, 'vol', 'restored');
    assert.equal(snapdump(['restore', '-f', path.join(h.dir, 'tape0'), '-C', dest, '--quiet'], { env: cliEnv() }).status, 0);
    sameTree(src, dest);
    // UPDATE=y: the completed backup is in the history the CLI shares.
    assert.match(snapdump(['history', '--state', stateDir(h)], { env: cliEnv() }).stdout.toString(), new RegExp(src.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  } finally {
    await h.close();
  }
});

test('a connection closed before the file phase, or a TCP data connection: aborted, released, no context, the reason logged', async () => {
  const h = await startServer();
  try {
    const src = source(path.join(h.dir, 'vol', 'src'));
    // LOCAL, held by a one-record window before anything reaches phase IV on tape; then the TCP connection closes.
    const d = await dma(h.port);
    assert.equal((await d.call('MOVER_SET_RECORD_SIZE', { len: 1024 })).error, 0);
    await startLocalBackup(d, src, 1024n);
    await d.waitPost('NOTIFY_MOVER_PAUSED');
    d.c.close();
    await released(h);
    const early = await until('the stop to be logged', () => h.logs.find((l) => /data operation stopped/.test(l)));
    assert.match(early, /not restartable \((it stopped in phase (I|III) |it stopped in phase IV \(files\) before its first checkpoint)/, early);
    assert.deepEqual((await listContexts(stateDir(h))).contexts, []);

    // Separate DATA and TAPE sessions (TCP data connection): the data service cannot see the tape.
    h.logs.length = 0;
    const t = await dma(h.port);
    const dd = await dma(h.port);
    assert.equal((await t.call('TAPE_OPEN', { device: 'tape0', mode: 1 })).error, 0);
    assert.equal((await t.call('MOVER_SET_WINDOW', { offset: 0n, length: QUAD_ALL_ONES })).error, 0);
    const l = await t.call('MOVER_LISTEN', { mode: 0, addr_type: AddrType.TCP });
    assert.equal(l.error, 0);
    assert.equal((await dd.call('DATA_CONNECT', { addr: l.connect_addr })).error, 0);
    await withSlowFilePhase(async () => {
      assert.equal((await dd.call('DATA_START_BACKUP', { butype_name: 'dump', env: [{ name: 'FILESYSTEM', value: src }] })).error, 0);
      await until('the file phase', async () => (await listContexts(stateDir(h))).contexts.find((c) => c.phase === 'files'));
      dd.c.close();
    });
    const tcp = await until('the stop to be logged', () => h.logs.find((x) => /data operation stopped/.test(x)));
    assert.match(tcp, /not restartable \(the image goes over a TCP data connection/, tcp);
    // The mover saw its data connection go: halted, and its session can wind down.
    await t.waitPost('NOTIFY_MOVER_HALTED');
    assert.equal((await t.call('MOVER_STOP', undefined)).error, 0);
    assert.equal((await t.call('TAPE_CLOSE', undefined)).error, 0);
    t.c.close();
    await released(h);
    assert.deepEqual((await listContexts(stateDir(h))).contexts, []);
  } finally {
    await h.close();
  }
});

test('server shutdown with override-vetoes mid file phase: the context is written before stop() resolves', async () => {
  const h = await startServer();
  try {
    const src = source(path.join(h.dir, 'vol', 'src'));
    const d = await dma(h.port);
    await withSlowFilePhase(async () => {
      await startLocalBackup(d, src);
      await until('a checkpoint in the file phase', () => checkpointed(h));
      await h.server.stop({ abortRunning: true });
    });
    // No waiting here: stop() returned after the aborted backup wound down.
    const { contexts } = await listContexts(stateDir(h));
    assert.equal(contexts.length, 1);
    assert.equal(contexts[0]!.status, 'interrupted');
    assert.equal(contexts[0]!.owner, null);
    await until('the tape to be released', () => h.server.context.tapesInUse.size === 0 || null);
    d.c.close();
    await restartBackup({ id: contexts[0]!.id, stateDir: stateDir(h) });
    const dest = path.join(h.dir, 'vol', 'restored');
    assert.equal(snapdump(['restore', '-f', path.join(h.dir, 'tape0'), '-C', dest, '--quiet'], { env: cliEnv() }).status, 0);
    sameTree(src, dest);
  } finally {
    await h.close();
  }
});
