/**
 * Piscina task of the traverse phase: lists directories and lstats every entry, so the walk's
 * system calls run on every core. Each directory is one native call (sysx.walkDir: readdir,
 * sort, statx per entry), so no per-entry JavaScript runs here. Names travel as one NUL-joined
 * string (bytes only for names that are not UTF-8), stat results as rows of a Float64Array.
 */
import * as sysx from '../native/sysx.js';
import { STAT_FIELDS } from '../native/sysx.js';
import { constants as osConstants } from 'node:os';
/** errno number → code name (ENOENT...), for the entries walkDir could not stat. */
const ERRNO_NAMES = new Map(Object.entries(osConstants.errno).map(([k, v]) => [v, k]));

export interface WalkTask {
  /** Directory paths joined by NUL; bytes for the ones that are not UTF-8. */
  dirs: string;
  rawDirs?: Record<number, Uint8Array>;
  /** Test read access of regular files (when not running as root). */
  checkAccess: boolean;
  /** Read birth times (statx); false where the source's file system has none (saves a call per entry). */
  birth?: boolean;
}

/**
 * Columns of a walk row: the lstat fields, whether a regular file is readable, then the birth
 * time (statx; nanoseconds -1 where the file system has none).
 */
export const WALK_COLS = STAT_FIELDS + 3;
export const W_READABLE = STAT_FIELDS;
export const W_BIRTH_SEC = STAT_FIELDS + 1;
export const W_BIRTH_NSEC = STAT_FIELDS + 2;

/** Birth time of `p` into row `o` of `rows` (-1 nanoseconds where there is none). */
export function birthInto(p: string | Uint8Array, rows: Float64Array, o: number): void {
  let birth: sysx.BirthTime | null = null;
  try { birth = sysx.statxBirth(p); } catch { /* vanished since lstat: its data reader reports it */ }
  rows[o + W_BIRTH_SEC] = birth ? birth.sec : 0;
  rows[o + W_BIRTH_NSEC] = birth ? birth.nsec : -1;
}

export interface WalkResult {
  /** Entries per directory, in task order; -1 when the directory could not be listed. */
  counts: Int32Array;
  /** Why a directory could not be listed, by directory index. */
  dirErrors: Record<number, string>;
  /** Names of all entries, NUL-joined, in order. */
  names: string;
  rawNames?: Record<number, Uint8Array>;
  rows: Float64Array;
  /** lstat failures by entry index: [errno code, message]. */
  statErrors: Record<number, [string, string]>;
}

function join(dir: string | Buffer, name: string | Buffer): string | Buffer {
  if (typeof dir === 'string' && typeof name === 'string') return dir === '/' ? '/' + name : dir + '/' + name;
  return Buffer.concat([Buffer.from(dir), Buffer.from('/'), Buffer.from(name)]);
}

export function walkDirs(task: WalkTask): WalkResult {
  const dirs: Array<string | Buffer> = task.dirs.split('\0');
  if (task.rawDirs) for (const [i, raw] of Object.entries(task.rawDirs)) dirs[Number(i)] = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const counts = new Int32Array(dirs.length);
  const dirErrors: Record<number, string> = {};
  const nameBufs: Buffer[] = [];
  let rawNames: Record<number, Uint8Array> | undefined;
  const statErrors: Record<number, [string, string]> = {};
  const listed: sysx.WalkedDir[] = [];
  let n = 0;
  dirs.forEach((dir, d) => {
    // One native call lists the directory and stats its entries (statx with the birth time).
    let w: sysx.WalkedDir;
    try {
      w = sysx.walkDir(dir, task.birth !== false, task.checkAccess);
    } catch (e) {
      counts[d] = -1;
      dirErrors[d] = (e as Error).message;
      return;
    }
    counts[d] = w.errors.length;
    listed.push(w);
    nameBufs.push(w.names);
    const rare = rareEntries(dir, w, n);
    if (rare.rawNames) rawNames = Object.assign(rawNames ?? {}, rare.rawNames);
    Object.assign(statErrors, rare.statErrors);
    n += w.errors.length;
  });
  const rows = new Float64Array(n * WALK_COLS);
  let at = 0;
  for (const w of listed) { rows.set(w.rows, at); at += w.rows.length; }
  return { counts, dirErrors, names: decodeNames(Buffer.concat(nameBufs)), rawNames, rows, statErrors };
}

/** One directory listed by sysx.walkDir, as the walk result of a task of that one directory. */
export function walkResultOf(dir: string | Buffer, w: sysx.WalkedDir): WalkResult {
  const { rawNames, statErrors } = rareEntries(dir, w, 0);
  return { counts: Int32Array.of(w.errors.length), dirErrors: {}, names: decodeNames(w.names), rawNames, rows: w.rows, statErrors };
}

/**
 * The names as one string, NUL-separated (a name that is not UTF-8 decodes to something
 * without NUL: its bytes go in rawNames).
 */
function decodeNames(all: Buffer): string {
  return all.length > 0 ? all.toString('utf8', 0, all.length - 1) : '';
}

/** Rare: names that are not UTF-8 and entries that could not be stat'ed need their bytes. */
function rareEntries(dir: string | Buffer, w: sysx.WalkedDir, first: number): Pick<WalkResult, 'rawNames' | 'statErrors'> {
  const statErrors: Record<number, [string, string]> = {};
  let rawNames: Record<number, Uint8Array> | undefined;
  if (w.raw.length === 0 && !w.errors.some((e) => e !== 0)) return { statErrors };
  const names = splitNames(w.names);
  for (const i of w.raw) (rawNames ??= {})[first + i] = names[i]!;
  w.errors.forEach((err, i) => {
    if (err === 0) return;
    const code = ERRNO_NAMES.get(err) ?? 'UNKNOWN';
    statErrors[first + i] = [code, `${code}: lstat '${String(join(dir, names[i]!))}'`];
  });
  return { rawNames, statErrors };
}

/** The NUL-terminated names of a walkDir result, as Buffers. */
function splitNames(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let s = 0; s < buf.length;) {
    const e = buf.indexOf(0, s);
    out.push(Buffer.from(buf.subarray(s, e)));
    s = e + 1;
  }
  return out;
}
