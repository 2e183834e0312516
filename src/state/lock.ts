/**
 * An exclusive lock on the state directory that works across processes with Node alone (no
 * flock in Node): the lock is the file `DIR/NAME.lock`, created atomically. Its content says who
 * holds it (pid, host, boot id, process start time, a random token) so that a lock left by a
 * process that died can be recognised and broken, and so that a holder only ever removes its own.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SnapdumpError, isErrno } from '../errors.js';

export interface LockOptions {
  /** Give up (ERR_LOCKED) after this long; default 30 s, far longer than any state update. */
  timeoutMs?: number;
}

export interface LockInfo {
  pid: number;
  host: string;
  /** Linux boot id: a lock from an earlier boot is stale whatever its pid. */
  bootId: string | null;
  /** The holder's start time (clock ticks since boot): tells a reused pid from the holder. */
  start: string | null;
  acquired: string;
  token: string;
}

/** An unreadable lock older than this is a leftover of a crash (a live one is never empty). */
const UNPARSABLE_STALE_MS = 10_000;
/** The break guard is held for microseconds; one older than this belongs to a crashed breaker. */
const GUARD_STALE_MS = 10_000;

function readSmall(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

/** Field 22 of /proc/PID/stat; the command name (field 2) may hold spaces, so split after ')'. */
export function processStart(pid: number | 'self'): string | null {
  const stat = readSmall(`/proc/${pid}/stat`);
  if (stat === null) return null;
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
}

export const bootId = readSmall('/proc/sys/kernel/random/boot_id');

export function lockPath(dir: string, name: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new SnapdumpError('ERR_INTERNAL', `bad lock name "${name}"`);
  return path.join(dir, `${name}.lock`);
}

export function parseLockInfo(text: string): LockInfo | null {
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    if (typeof v.pid !== 'number' || typeof v.host !== 'string' || typeof v.token !== 'string') return null;
    return { pid: v.pid, host: v.host, bootId: v.bootId ?? null, start: v.start ?? null, acquired: String(v.acquired ?? ''), token: v.token };
  } catch {
    return null;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return !isErrno(e, 'ESRCH'); // EPERM: it exists, owned by someone else
  }
}

/**
 * Only a lock of this host can be judged: its pid is dead, it dates from another boot, or the
 * pid now belongs to a process that started later. A lock of another host is never broken.
 */
export function isStale(info: LockInfo | null, mtimeMs: number, now = Date.now()): boolean {
  if (info === null) return now - mtimeMs > UNPARSABLE_STALE_MS;
  if (info.host !== os.hostname()) return false;
  if (info.bootId && bootId && info.bootId !== bootId) return true;
  if (!pidAlive(info.pid)) return true;
  if (info.start) {
    const start = processStart(info.pid);
    if (start !== null && start !== info.start) return true;
  }
  return false;
}

/**
 * Removes the lock only if it still has the content judged stale. Breakers are serialised by a
 * guard file, so between the re-read and the unlink nobody else can remove that lock, and no
 * one can create a new one while it exists: a live lock is never removed by mistake.
 */
async function breakStale(file: string, staleContent: string): Promise<boolean> {
  const guard = `${file}.break`;
  let fh;
  try {
    fh = await fsp.open(guard, 'wx');
  } catch (e) {
    if (!isErrno(e, 'EEXIST')) throw e;
    const st = await fsp.stat(guard).catch(() => null);
    if (st && Date.now() - st.mtimeMs > GUARD_STALE_MS) await fsp.rm(guard, { force: true });
    return false; // someone else is breaking it; the caller waits and looks again
  }
  try {
    if (readSmall(file) !== staleContent) return false;
    await fsp.rm(file, { force: true });
    return true;
  } finally {
    await fh.close();
    await fsp.rm(guard, { force: true });
  }
}

/** One attempt: publish our content under the lock name with link(), atomic and exclusive. */
async function tryAcquire(file: string, content: string, token: string): Promise<boolean> {
  // Written to a private name first so that the lock file is never seen empty or half-written.
  const temp = `${file}.${token}`;
  await fsp.writeFile(temp, content, { flag: 'wx', mode: 0o644 });
  try {
    await fsp.link(temp, file);
    return true;
  } catch (e) {
    if (isErrno(e, 'EEXIST')) return false;
    throw e;
  } finally {
    await fsp.rm(temp, { force: true });
  }
}

function lockedError(file: string, content: string | null, timeoutMs: number): SnapdumpError {
  const info = content === null ? null : parseLockInfo(content);
  const who = info ? `pid ${info.pid} on ${info.host} since ${info.acquired}` : 'an unreadable lock file';
  return new SnapdumpError('ERR_LOCKED',
    `${file} is held by ${who} (waited ${timeoutMs} ms); if no snapdump is running there, remove ${file}`,
    { path: file, ...(info ? { pid: info.pid, host: info.host } : {}) });
}

/**
 * Runs `fn` while holding the exclusive lock `NAME` of the state directory `dir`: waits (with
 * jittered polling, bounded by timeoutMs) while a live process holds it, breaks a stale one,
 * and always releases it, also when `fn` throws.
 */
export async function withLock<T>(dir: string, name: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const release = await acquireLock(dir, name, opts);
  try {
    return await fn();
  } finally {
    await release();
  }
}

/**
 * Takes the lock `NAME` of `dir` (as withLock) for a span that is not one function call, e.g.
 * a whole backup. Returns the release function; calling it more than once is harmless.
 */
export async function acquireLock(dir: string, name: string, opts: LockOptions = {}): Promise<() => Promise<void>> {
  const file = lockPath(dir, name);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const token = crypto.randomBytes(12).toString('hex');
  const info: LockInfo = { pid: process.pid, host: os.hostname(), bootId, start: processStart('self'), acquired: new Date().toISOString(), token };
  const content = JSON.stringify(info) + '\n';
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  for (;;) {
    let held: string | null;
    try {
      if (await tryAcquire(file, content, token)) break;
      held = readSmall(file);
      const st = await fsp.stat(file).catch(() => null);
      if (held !== null && st && isStale(parseLockInfo(held), st.mtimeMs) && await breakStale(file, held)) continue;
    } catch (e) {
      throw new SnapdumpError('ERR_STATE', `cannot lock ${file}: ${(e as Error).message}`, { path: file }, { cause: e });
    }
    if (Date.now() >= deadline) throw lockedError(file, held, timeoutMs);
    await sleep(delay + Math.random() * delay);
    delay = Math.min(delay * 2, 100);
  }
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    // Remove only our own lock: if it was (wrongly) broken and retaken, the new one is not ours.
    if (readSmall(file) === content.trim()) await fsp.rm(file, { force: true });
  };
}

/** Who this process is, in the form isStale() judges: for records that name a live owner. */
export function selfInfo(): LockInfo {
  return { pid: process.pid, host: os.hostname(), bootId, start: processStart('self'), acquired: new Date().toISOString(), token: crypto.randomBytes(6).toString('hex') };
}
