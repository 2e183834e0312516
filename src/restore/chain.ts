/**
 * Restoring a chain of images (level 0, then incrementals) into one destination, as restore -r
 * does with its restoresymtable (DUMP-FORMAT.md §7.2).
 *
 * The state of the last whole image applied lives in DEST/.snapdump-restore.json: its dates,
 * its dump identity and every name restored, per inode (inode numbers are the identity of
 * files across levels). An incremental is applied as the difference between the names of the
 * state and the names of the image (the listings of its dumped directories; the unchanged
 * directories keep their old entries):
 * 1. every surviving object that gets a new name and is not on this tape is put aside in a
 *    holding directory inside DEST (files hard-linked, directories renamed, deepest first);
 * 2. every name that is gone is removed (a removed directory with what is left in it);
 * 3. the directories are put (or made) at their new names, parents first, then the files put
 *    aside get their new names; the holding directory is removed;
 * 4. the ordinary restore then writes what is on the tape and the dumped directories' attributes.
 * Every path is DEST + names that were checked by the tree (or, for old names, that the state
 * recorded from such a tree); removals never follow symlinks.
 */
import * as fs from 'node:fs';
import { SnapdumpError, UsageError } from '../errors.js';
import type { Header } from '../format/header.js';
import { ensureDirectory, createReplacing } from './safe-path.js';
import { unsafeName } from './tree.js';
import type { RestoreNoticeCode } from './types.js';

export const STATE_FILE = '.snapdump-restore.json';
export const HOLDING_PREFIX = '.snapdump-holding-';

export interface ChainState {
  format: 'snapdump-restore-state';
  version: 1;
  /** c_date of the last image applied (seconds). */
  date: number;
  /** Its c_ddate (0 for a level 0). */
  ddate: number;
  level: number;
  label: string;
  filesys: string;
  host: string;
  dev: string;
  /** Inode number of the image root. */
  root: number;
  /** Per inode: whether it is a directory and its names relative to DEST (bytes as latin1 characters). */
  inodes: Record<string, { dir?: true; paths: string[] }>;
}

/** One directory entry: `name` (latin1) in directory `parent`. */
export interface Entry {
  parent: number;
  name: string;
  ino: number;
  dir: boolean;
}

export type Entries = Map<string, Entry>;

export const entryKey = (parent: number, name: string): string => `${parent}/${name}`;

export function statePath(dest: string): string {
  return `${dest}/${STATE_FILE}`;
}

export function showDate(sec: number): string {
  return `${new Date(sec * 1000).toISOString().replace('.000Z', 'Z')} (${sec})`;
}

/** The state of DEST, or null when there is none. */
export function readState(dest: string): ChainState | null {
  const file = statePath(dest);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new SnapdumpError('ERR_STATE', `cannot read the restore state ${file}: ${(e as Error).message}`, { path: file }, { cause: e });
  }
  try {
    const s = JSON.parse(text) as ChainState;
    if (s.format !== 'snapdump-restore-state' || s.version !== 1 || typeof s.date !== 'number' || typeof s.inodes !== 'object') throw new Error('not a snapdump restore state');
    return s;
  } catch (e) {
    throw new SnapdumpError('ERR_STATE', `the restore state ${file} is corrupt (${(e as Error).message}); remove it (snapdump restore --finish -C DEST) and start again from a level 0`, { path: file }, { cause: e });
  }
}

/** Writes the state atomically (temporary file, fsync, rename). */
export function writeState(dest: string, s: ChainState): void {
  const file = statePath(dest);
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW, 0o600);
  try {
    fs.writeSync(fd, JSON.stringify(s));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/** Removes the state of DEST (`snapdump restore --finish`). Returns whether there was one. */
export function removeState(dest: string): boolean {
  try {
    fs.unlinkSync(statePath(dest));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new SnapdumpError('ERR_STATE', `cannot remove the restore state ${statePath(dest)}: ${(e as Error).message}`, { path: statePath(dest) }, { cause: e });
  }
}

/**
 * Refuses an image that does not continue the chain of DEST: an incremental whose base is not
 * the last image applied, one of another dump, or one with no level 0 applied (unless force).
 */
export function checkChain(h: Header, s: ChainState | null, force: boolean): void {
  if (h.ddate === 0) return;
  if (!s) {
    if (force) return;
    throw new UsageError(`this image is an incremental (level ${h.level}) based on the backup of ${showDate(h.ddate)}, but no image has been restored into this destination: restore the level 0 (and the images after it) first, or use --force to restore only what this image holds`, { reason: 'NO_CHAIN', ddate: h.ddate });
  }
  if (s.filesys !== h.filesys || s.host !== h.host) {
    throw new UsageError(`this image is of ${h.host}:${h.filesys}, but the images applied here are of ${s.host}:${s.filesys}: it belongs to another dump`, { reason: 'OTHER_DUMP' });
  }
  if (h.ddate !== s.date) {
    throw new UsageError(`this image is based on the backup of ${showDate(h.ddate)}, but the last image applied here is from ${showDate(s.date)}: apply the images of the chain in order`, { reason: 'CHAIN_ORDER', ddate: h.ddate, lastDate: s.date });
  }
}

/** The entries recorded by a state. */
export function stateEntries(s: ChainState): Entries {
  const dirIno = new Map<string, number>([['', s.root]]);
  for (const [k, v] of Object.entries(s.inodes)) {
    if (!/^[1-9][0-9]*$/.test(k) || !Array.isArray(v.paths)) throw new SnapdumpError('ERR_STATE', `the restore state is corrupt (inode "${k}"); remove it (snapdump restore --finish -C DEST) and start again from a level 0`);
    for (const p of v.paths) {
      // Names recorded by an earlier restore, checked again: a state file cannot lead outside DEST.
      if (typeof p !== 'string' || p.split('/').some((c) => unsafeName(Buffer.from(c, 'latin1')) !== null)) {
        throw new SnapdumpError('ERR_STATE', `the restore state is corrupt (unsafe name ${JSON.stringify(p)}); remove it (snapdump restore --finish -C DEST) and start again from a level 0`);
      }
    }
    if (v.dir) for (const p of v.paths) dirIno.set(p, Number(k));
  }
  const out: Entries = new Map();
  for (const [k, v] of Object.entries(s.inodes)) {
    for (const p of v.paths) {
      const cut = p.lastIndexOf('/');
      const parent = dirIno.get(cut < 0 ? '' : p.slice(0, cut));
      if (parent === undefined) continue;
      const name = p.slice(cut + 1);
      out.set(entryKey(parent, name), { parent, name, ino: Number(k), dir: v.dir === true });
    }
  }
  return out;
}

/** Relative paths of every directory (by the parent chain of `entries`). */
function dirPaths(entries: Entries, root: number): Map<number, string> {
  const parentOf = new Map<number, Entry>();
  for (const e of entries.values()) if (e.dir) parentOf.set(e.ino, e);
  const out = new Map<number, string>([[root, '']]);
  const resolve = (ino: number, depth: number): string | null => {
    const known = out.get(ino);
    if (known !== undefined) return known;
    const e = parentOf.get(ino);
    if (!e || depth > 10000) return null;
    const up = resolve(e.parent, depth + 1);
    if (up === null) return null;
    const p = up === '' ? e.name : `${up}/${e.name}`;
    out.set(ino, p);
    return p;
  };
  for (const ino of parentOf.keys()) resolve(ino, 0);
  return out;
}

export function makeState(h: Header, root: number, entries: Entries): ChainState {
  const dirs = dirPaths(entries, root);
  const inodes: ChainState['inodes'] = {};
  for (const e of entries.values()) {
    const up = dirs.get(e.parent);
    if (up === undefined) continue;
    const p = up === '' ? e.name : `${up}/${e.name}`;
    const rec = inodes[String(e.ino)] ??= { paths: [] };
    if (e.dir) rec.dir = true;
    rec.paths.push(p);
  }
  return {
    format: 'snapdump-restore-state', version: 1, date: h.date, ddate: h.ddate, level: h.level, label: h.label,
    filesys: h.filesys, host: h.host, dev: h.dev, root, inodes,
  };
}

/** Old entries of the directory `ino` and everything below it (an unchanged directory not on tape). */
export function graft(old: Entries, ino: number, into: Entries): void {
  const byParent = new Map<number, Entry[]>();
  for (const e of old.values()) {
    let l = byParent.get(e.parent);
    if (!l) byParent.set(e.parent, l = []);
    l.push(e);
  }
  const stack = [ino];
  const seen = new Set<number>();
  while (stack.length > 0) {
    const d = stack.pop()!;
    if (seen.has(d)) continue;
    seen.add(d);
    for (const e of byParent.get(d) ?? []) {
      const k = entryKey(e.parent, e.name);
      if (!into.has(k)) into.set(k, e);
      if (e.dir) stack.push(e.ino);
    }
  }
}

type Warn = (code: RestoreNoticeCode, path: Buffer, message: string, ino: number) => void;

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/**
 * Turns the names of DEST from `old` into `next`, keeping (and moving) every object that
 * survives and is not on this tape. `dumped(ino)`: the inode's content comes from the tape.
 */
export function applyChanges(opts: {
  dest: string; root: number; date: number; old: Entries; next: Entries;
  dumped: (ino: number) => boolean; warn: Warn;
}): void {
  const { dest, root, old, next, dumped, warn } = opts;
  const sameEntry = (a: Entry, c: Entry | undefined) => c !== undefined && c.ino === a.ino && c.dir === a.dir;
  const removed: Entry[] = [];
  const added: Entry[] = [];
  for (const [k, e] of old) if (!sameEntry(e, next.get(k))) removed.push(e);
  for (const [k, e] of next) if (!sameEntry(e, old.get(k))) added.push(e);
  if (removed.length === 0 && added.length === 0) return;

  const oldDir = new Map<number, Entry>();
  const oldFiles = new Map<number, Entry[]>();
  for (const e of old.values()) {
    if (e.dir) oldDir.set(e.ino, e);
    else { const l = oldFiles.get(e.ino); if (l) l.push(e); else oldFiles.set(e.ino, [e]); }
  }
  const newDir = new Map<number, Entry>();
  for (const e of next.values()) if (e.dir) newDir.set(e.ino, e);

  const holding = `${dest}/${HOLDING_PREFIX}${opts.date}`;
  const held = new Set<number>();
  // Every directory used is checked to be a real directory (not a symlink planted between two
  // restores), from DEST down; the checks are forgotten after each step (entries move).
  const real = new Set<string>([dest]);
  const isRealDir = (p: string): boolean => {
    if (real.has(p)) return true;
    const cut = p.lastIndexOf('/');
    if (cut <= dest.length - 1 || !p.startsWith(`${dest}/`) || !isRealDir(p.slice(0, cut))) return false;
    try {
      if (!fs.lstatSync(p).isDirectory()) return false;
    } catch {
      return false;
    }
    real.add(p);
    return true;
  };
  const dirOk = (p: string | null): p is string => {
    if (p === null) return false;
    if (isRealDir(p)) return true;
    warn('IN_THE_WAY', b(p), 'not a directory (a symbolic link or another entry is in the way); left as it is', 0);
    return false;
  };
  const oldRel = dirPaths(old, root);
  /** Where directory `ino` is now (held, or below its old parent). */
  const current = (ino: number, depth = 0): string | null => {
    if (ino === root) return dest;
    if (held.has(ino)) return `${holding}/${ino}`;
    const e = oldDir.get(ino);
    if (!e || depth > 10000) return null;
    const up = current(e.parent, depth + 1);
    return up === null ? null : `${up}/${e.name}`;
  };
  const newRel = dirPaths(next, root);
  const newPath = (parent: number, name: string): string | null => {
    const r = newRel.get(parent);
    return r === undefined ? null : r === '' ? `${dest}/${name}` : `${dest}/${r}/${name}`;
  };

  // Objects that survive under a new name: directories (any), files not on this tape.
  const rescueDirs = new Set<number>();
  const rescueFiles = new Set<number>();
  for (const e of added) {
    if (e.dir && oldDir.has(e.ino) && e.ino !== root) rescueDirs.add(e.ino);
    else if (!e.dir && oldFiles.has(e.ino) && !dumped(e.ino)) rescueFiles.add(e.ino);
  }
  let made = false;
  const makeHolding = () => {
    if (made) return;
    try {
      fs.mkdirSync(holding, { mode: 0o700 });
    } catch (e) {
      throw new SnapdumpError('ERR_OUTPUT', `cannot create the holding directory ${holding}: ${(e as Error).message} (an earlier restore of this image was interrupted? move it away and apply the image again)`, { path: holding }, { cause: e });
    }
    made = true;
  };

  // 1. Put aside: files first (while every old path is valid), then directories, deepest first.
  for (const ino of rescueFiles) {
    makeHolding();
    let ok = false;
    for (const e of oldFiles.get(ino)!) {
      const d = current(e.parent);
      if (!dirOk(d)) continue;
      try {
        fs.linkSync(`${d}/${e.name}`, `${holding}/${ino}`);
        ok = true;
        break;
      } catch { /* try its next name */ }
    }
    if (!ok) rescueFiles.delete(ino);
  }
  const dirsDeepFirst = [...rescueDirs].sort((x, y) => (oldRel.get(y) ?? '').split('/').length - (oldRel.get(x) ?? '').split('/').length);
  for (const ino of dirsDeepFirst) {
    const from = current(ino);
    if (from === null || !dirOk(from.slice(0, from.lastIndexOf('/')))) { rescueDirs.delete(ino); continue; }
    makeHolding();
    try {
      fs.renameSync(from, `${holding}/${ino}`);
      held.add(ino);
    } catch (e) {
      rescueDirs.delete(ino);
      warn('WRITE', b(from), `cannot move the directory aside: ${(e as Error).message}`, ino);
    }
  }

  real.clear();
  real.add(dest);
  // 2. Names that are gone, in directories that survive (a removed directory takes its rest).
  for (const e of removed) {
    if (e.dir && held.has(e.ino)) continue;
    if (e.parent !== root && !(oldDir.has(e.parent) && newDir.has(e.parent))) continue;
    const d = current(e.parent);
    if (!dirOk(d)) continue;
    const p = `${d}/${e.name}`;
    try {
      const st = fs.lstatSync(p);
      if (st.isDirectory()) fs.rmSync(p, { recursive: true, force: true });
      else fs.unlinkSync(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') warn('WRITE', b(p), `cannot remove a name that is gone: ${(err as Error).message}`, e.ino);
    }
  }

  real.clear();
  real.add(dest);
  // 3. Directories at their new names, parents first; then the files put aside.
  const newDirs = added.filter((e) => e.dir).sort((x, y) => (newRel.get(x.ino) ?? '').split('/').length - (newRel.get(y.ino) ?? '').split('/').length);
  for (const e of newDirs) {
    const to = newPath(e.parent, e.name);
    if (to === null || !dirOk(to.slice(0, to.lastIndexOf('/')))) continue;
    try {
      if (held.has(e.ino)) {
        fs.renameSync(`${holding}/${e.ino}`, to);
        held.delete(e.ino);
      } else {
        ensureDirectory(b(to), 0o700);
      }
    } catch (err) {
      warn('WRITE', b(to), `cannot put the directory at its new name: ${(err as Error).message}`, e.ino);
    }
  }
  for (const e of added) {
    if (e.dir || !rescueFiles.has(e.ino)) continue;
    const to = newPath(e.parent, e.name);
    if (to === null || !dirOk(to.slice(0, to.lastIndexOf('/')))) continue;
    try {
      createReplacing(b(to), () => fs.linkSync(`${holding}/${e.ino}`, to));
    } catch (err) {
      warn('WRITE', b(to), `cannot give the file its new name: ${(err as Error).message}`, e.ino);
    }
  }
  if (made) {
    if (held.size > 0) {
      warn('WRITE', b(holding), `${held.size} directories could not be put back; they are left in ${holding}`, 0);
    } else {
      fs.rmSync(holding, { recursive: true, force: true });
    }
  }
}
