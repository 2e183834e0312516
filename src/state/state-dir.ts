/**
 * The persistent state directory (dumpdates, later the inode map): where it is by default,
 * checking it before a backup relies on it, and replacing its files without ever exposing a
 * half-written one. The cross-process lock lives in lock.ts and is re-exported here.
 */
import * as crypto from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { SnapdumpError, isErrno } from '../errors.js';

export { acquireLock, withLock, type LockOptions } from './lock.js';

export interface DefaultStateDirContext {
  env?: NodeJS.ProcessEnv;
  uid?: number;
  home?: string;
}

/**
 * `SNAPDUMP_STATE` if set; root gets the system-wide `/var/lib/snapdump` (backups run from cron
 * as root must share one history); anyone else the XDG state directory. A relative
 * `XDG_STATE_HOME` is ignored, as the XDG spec requires.
 */
export function defaultStateDir(ctx: DefaultStateDirContext = {}): string {
  const env = ctx.env ?? process.env;
  const uid = ctx.uid ?? process.getuid?.() ?? -1;
  if (env.SNAPDUMP_STATE) return path.resolve(env.SNAPDUMP_STATE);
  if (uid === 0) return '/var/lib/snapdump';
  const xdg = env.XDG_STATE_HOME;
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'snapdump');
  return path.join(ctx.home ?? os.homedir(), '.local', 'state', 'snapdump');
}

export interface OpenStateDirOptions {
  /** Create the directory (and its parents) when missing. */
  create: boolean;
  /** Require write access (default true); `history` only reads. */
  write?: boolean;
}

function stateError(message: string, dir: string, cause?: unknown): SnapdumpError {
  const errno = isErrno(cause) ? cause.code : undefined;
  return new SnapdumpError('ERR_STATE', message, { path: dir, ...(errno ? { errno } : {}) }, { cause });
}

/**
 * Checks (and optionally creates) the state directory and returns its absolute path. Done up
 * front so that a backup fails before it writes an image whose history could not be recorded.
 */
export async function openStateDir(dir: string, opts: OpenStateDirOptions): Promise<string> {
  const abs = path.resolve(dir);
  if (opts.create) {
    try {
      // 0700: the history names every backed-up path, which is nobody else's business.
      await fsp.mkdir(abs, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw stateError(`cannot create state directory ${abs}: ${(e as Error).message}`, abs, e);
    }
  }
  let st;
  try {
    st = await fsp.stat(abs);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) throw stateError(`state directory ${abs} does not exist`, abs, e);
    throw stateError(`cannot use state directory ${abs}: ${(e as Error).message}`, abs, e);
  }
  if (!st.isDirectory()) throw stateError(`state directory ${abs} is not a directory`, abs);
  const mode = opts.write === false ? fsp.constants.R_OK | fsp.constants.X_OK
    : fsp.constants.R_OK | fsp.constants.W_OK | fsp.constants.X_OK;
  try {
    // access() also reports EROFS for a read-only mount, which a mode check would miss.
    await fsp.access(abs, mode);
  } catch (e) {
    const what = opts.write === false ? 'readable' : 'writable';
    throw stateError(`state directory ${abs} is not ${what}: ${(e as Error).message}`, abs, e);
  }
  return abs;
}

/**
 * fsync a file, or a directory so a rename in it survives a crash (some file systems refuse
 * that, harmlessly).
 */
export async function syncPath(p: string): Promise<void> {
  const fh = await fsp.open(p, 'r');
  try {
    await fh.sync();
  } catch (e) {
    if (!isErrno(e, 'EINVAL', 'ENOTSUP', 'EISDIR', 'EBADF')) throw e;
  } finally {
    await fh.close();
  }
}

/**
 * Replaces `file` so that a reader sees either the old or the new content, never a mix, and a
 * crash leaves one of the two: write a temp file in the same directory (rename is only atomic
 * within one file system), fsync it, rename it over the target, fsync the directory.
 * On failure the temp file is removed and an ERR_STATE error names the target. With `durable`
 * false both fsyncs are left out: a crash may then leave the old version, never a torn one.
 */
export async function atomicWrite(file: string, data: string | Uint8Array, mode = 0o644, durable = true): Promise<void> {
  const dir = path.dirname(file);
  // A dot name that no reader looks for; pid + random so concurrent writers never collide.
  const temp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  let created = false;
  try {
    const fh = await fsp.open(temp, 'wx', mode);
    created = true;
    try {
      await fh.writeFile(data);
      if (durable) await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(temp, file);
    created = false;
    if (durable) await syncPath(dir);
  } catch (e) {
    if (created) await fsp.rm(temp, { force: true }).catch(() => undefined);
    throw stateError(`cannot write ${file}: ${(e as Error).message}`, file, e);
  }
}
