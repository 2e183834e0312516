/**
 * Piscina task of the traverse phase: lists directories and lstats every entry, so the walk's
 * system calls run on every core. Names travel as one NUL-joined string (bytes only for names
 * that are not UTF-8), stat results as rows of a Float64Array.
 */
import * as fs from 'node:fs';
import * as sysx from '../native/sysx.js';
import { STAT_FIELDS } from '../native/sysx.js';
import { listNames } from './list-names.js';
import { constants as osConstants } from 'node:os';

const NUL = Buffer.from([0]);
/** errno number → code name (ENOENT...), for the entries lstatAt could not stat. */
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
  const names: string[] = [];
  let rawNames: Record<number, Uint8Array> | undefined;
  const statErrors: Record<number, [string, string]> = {};
  let rows = new Float64Array(1024 * WALK_COLS);
  let errors = new Int32Array(1024);
  let n = 0;
  dirs.forEach((dir, d) => {
    let list: Array<string | Buffer>;
    try {
      list = listNames(dir);
    } catch (e) {
      counts[d] = -1;
      dirErrors[d] = (e as Error).message;
      return;
    }
    counts[d] = list.length;
    while ((n + list.length) * WALK_COLS > rows.length) {
      const grown = new Float64Array(rows.length * 2);
      grown.set(rows);
      rows = grown;
    }
    if (errors.length < list.length) errors = new Int32Array(list.length * 2);
    // One native call stats the whole directory (fstatat on one descriptor of it).
    let raw = false;
    for (const name of list) if (typeof name !== 'string') { raw = true; break; }
    const packed = raw
      ? Buffer.concat(list.flatMap((x) => [typeof x === 'string' ? Buffer.from(x) : x, NUL]))
      : Buffer.from(list.join('\0') + '\0');
    let dirError: NodeJS.ErrnoException | null = null;
    try {
      sysx.lstatAt(dir, packed, rows, n * WALK_COLS, WALK_COLS, errors);
    } catch (e) {
      dirError = e as NodeJS.ErrnoException; // removed or made unreadable since it was listed
    }
    for (let i = 0; i < list.length; i++, n++) {
      const name = list[i]!;
      if (typeof name === 'string') names.push(name);
      else { names.push(''); (rawNames ??= {})[n] = name; }
      const o = n * WALK_COLS;
      const err = dirError ? 0 : errors[i]!;
      if (dirError || err !== 0) {
        rows.fill(0, o, o + WALK_COLS);
        const code = dirError ? String(dirError.code) : (ERRNO_NAMES.get(err) ?? 'UNKNOWN');
        statErrors[n] = [code, dirError ? dirError.message : `${code}: lstat '${String(join(dir, name))}'`];
        continue;
      }
      rows[o + W_READABLE] = 1;
      if (task.birth !== false) birthInto(join(dir, name), rows, o);
      else { rows[o + W_BIRTH_SEC] = 0; rows[o + W_BIRTH_NSEC] = -1; }
      if (task.checkAccess && (rows[o + 2]! & 0o170000) === 0o100000) {
        try { fs.accessSync(join(dir, name), fs.constants.R_OK); } catch { rows[o + W_READABLE] = 0; }
      }
    }
  });
  return { counts, dirErrors, names: names.join('\0'), rawNames, rows: rows.slice(0, n * WALK_COLS), statErrors };
}
