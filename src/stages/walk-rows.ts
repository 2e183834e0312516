/**
 * The rows of the walk (sysx.walkDir, and native/walk-tree.c's slow rows): per entry the lstat fields, whether a
 * regular file is readable, then the birth time (statx; nanoseconds -1 where the file system has
 * none).
 */
import { constants as osConstants } from 'node:os';
import * as sysx from '../native/sysx.js';
import { STAT_FIELDS } from '../native/sysx.js';

export const WALK_COLS = STAT_FIELDS + 3;
export const W_BIRTH_SEC = STAT_FIELDS + 1;
export const W_BIRTH_NSEC = STAT_FIELDS + 2;

/** Birth time of `p` into row `o` of `rows` (-1 nanoseconds where there is none). */
export function birthInto(p: string | Uint8Array, rows: Float64Array, o: number): void {
  let birth: sysx.BirthTime | null = null;
  try { birth = sysx.statxBirth(p); } catch { /* vanished since lstat: its data reader reports it */ }
  rows[o + W_BIRTH_SEC] = birth ? birth.sec : 0;
  rows[o + W_BIRTH_NSEC] = birth ? birth.nsec : -1;
}

let errnoNames: Map<number, string> | null = null;

/** errno number → code name (ENOENT...), for the entries the walk could not stat. */
export function errnoName(errno: number): string {
  errnoNames ??= new Map(Object.entries(osConstants.errno).map(([k, v]) => [v, k]));
  return errnoNames.get(errno) ?? 'UNKNOWN';
}
