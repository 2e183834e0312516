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
 *
 * Interruption (a kill, a crash, SIGINT): the state doubles as a journal. Before step 1 it
 * records that the image of date D is being applied (`applying`, phase `moves`), before step 3
 * phase `place`, and once the names are in place (holding directory gone) phase `extract` with
 * the new names. Applying the same image again resumes: in `moves` what is already in the
 * holding directory counts as put aside, in `place` steps 1 and 2 are skipped and only what is
 * still held is put at its new name, in `extract` the names are already right and only the
 * tape is restored again. Any other incremental is refused (ERR_CHAIN, reason INTERRUPTED).
 */
import * as fs from 'node:fs';
import { SnapdumpError } from '../errors.js';
import type { Header } from '../format/header.js';
import { ensureDirectory, createReplacing } from './safe-path.js';
import { unsafeName, type TreeNode } from './tree.js';
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
  /** The journal of an incremental being applied on top of the image above (absent when none). */
  applying?: {
    /** c_date of the image being applied. */
    date: number;
    phase: 'moves' | 'place' | 'extract';
    /** In phase extract: the names DEST has now (the image's). */
    inodes?: ChainState['inodes'];
  };
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

/**
 * Writes the state (or its JSON text) atomically (temporary file, rename), fsynced before the rename when
 * `durable`: the journal of an incremental being applied must survive a power loss in order
 * with the moves it describes. The state written at the end of a restore is not: the files it
 * describes are not fsynced either (no restore tool does), and on ext4 the fsync forced a
 * journal commit of every inode just made (0.1-0.5 s measured on 100,000 files).
 */
export function writeState(dest: string, s: ChainState | string, durable = true): void {
  const file = statePath(dest);
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW, 0o600);
  try {
    fs.writeSync(fd, typeof s === 'string' ? s : JSON.stringify(s));
    if (durable) fs.fsyncSync(fd);
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
  const chainError = (reason: string, message: string, details: Record<string, unknown> = {}) =>
    new SnapdumpError('ERR_CHAIN', message, { reason, date: h.date, ddate: h.ddate, ...(s ? { lastDate: s.date } : {}), ...details });
  if (!s) {
    if (force) return;
    throw chainError('NO_CHAIN', `this image is an incremental (level ${h.level}) based on the backup of ${showDate(h.ddate)}, but no image has been restored into this destination: restore the level 0 (and the images after it) first, or use --force to restore only what this image holds`);
  }
  if (s.applying && s.applying.date !== h.date) {
    throw chainError('INTERRUPTED', `applying the image of ${showDate(s.applying.date)} to this destination was interrupted; apply that image again to complete it before any other (this image is from ${showDate(h.date)})`, { interruptedDate: s.applying.date });
  }
  // The chain condition is the dates (as for restore -r): snapshots of one file system are
  // mounted at other paths, so c_filesys alone may differ along a good chain. When the dates do
  // not match either, another file system or host is the likelier story, and is named.
  if (h.ddate !== s.date && (s.filesys !== h.filesys || s.host !== h.host)) {
    throw chainError('OTHER_DUMP', `this image (level ${h.level} of ${h.host}:${h.filesys}, based on the backup of ${showDate(h.ddate)}) belongs to another dump than the images applied here (of ${s.host}:${s.filesys}, the last one from ${showDate(s.date)}): restore it into another destination`);
  }
  if (h.ddate !== s.date) {
    throw chainError('CHAIN_ORDER', `this image is based on the backup of ${showDate(h.ddate)}, but the last image applied here is from ${showDate(s.date)}: apply the images of the chain in order (an image of another dump name of the same source is refused so too)`);
  }
}

/**
 * The entries recorded by a state: the names DEST has (after an interrupted incremental that
 * got as far as extracting, the names of that image).
 */
export function stateEntries(s: ChainState): Entries {
  const inodes = s.applying?.phase === 'extract' && s.applying.inodes ? s.applying.inodes : s.inodes;
  const dirIno = new Map<string, number>([['', s.root]]);
  for (const [k, v] of Object.entries(inodes)) {
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
  for (const [k, v] of Object.entries(inodes)) {
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

function namesOf(entries: Entries, root: number): ChainState['inodes'] {
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
  return inodes;
}

export function makeState(h: Header, root: number, entries: Entries): ChainState {
  return stateOf(h, root, namesOf(entries, root));
}

/** The entries of the image's name tree. */
export function treeEntries(root: TreeNode): Entries {
  const out: Entries = new Map();
  const stack: TreeNode[] = [root];
  while (stack.length > 0) {
    const n = stack.pop()!;
    for (const ch of n.children ?? []) {
      const name = ch.name.toString('latin1');
      out.set(entryKey(n.ino, name), { parent: n.ino, name, ino: ch.ino, dir: ch.dir !== null });
      if (ch.dir) stack.push(ch);
    }
  }
  return out;
}

/**
 * The state after an image that starts a chain (nothing applied before it), as JSON text: the
 * names are the tree's own, so this is JSON.stringify(makeState(h, root.ino, treeEntries(root)))
 * up to the order of the inodes, made straight from the tree (on 100,000 files the entry map,
 * the state object and its stringification took ~0.6 s, this a third of it).
 */
export function stateTextOfTree(h: Header, root: TreeNode): string {
  const inos: number[] = [];
  const paths: string[] = [];
  const dirs: boolean[] = [];
  walkNames(root, (ino, path, dir) => { inos.push(ino); paths.push(path); dirs.push(dir); });
  // Further names of an inode (hard links), by the index of its first name.
  const first = new Map<number, number>();
  const more = new Map<number, number[]>();
  for (let i = 0; i < inos.length; i++) {
    const f = first.get(inos[i]!);
    if (f === undefined) first.set(inos[i]!, i);
    else (more.get(f) ?? more.set(f, []).get(f)!).push(i);
  }
  const head = JSON.stringify(stateOf(h, root.ino, {}));
  const parts: string[] = [head.slice(0, head.length - 3), '{'];
  let sep = '';
  for (let i = 0; i < inos.length; i++) {
    if (first.get(inos[i]!) !== i) continue;
    const others = more.get(i);
    let list = JSON.stringify(paths[i]);
    let dir = dirs[i]!;
    if (others) for (const j of others) { list += `,${JSON.stringify(paths[j])}`; dir ||= dirs[j]!; }
    parts.push(`${sep}"${inos[i]}":{"paths":[${list}]${dir ? ',"dir":true' : ''}}`);
    sep = ',';
  }
  parts.push('}}');
  return parts.join('');
}

/** Every name of the tree (relative path, latin1), depth first as treeEntries() walks. */
function walkNames(root: TreeNode, each: (ino: number, path: string, dir: boolean) => void): void {
  const stack: Array<{ node: TreeNode; path: string }> = [{ node: root, path: '' }];
  while (stack.length > 0) {
    const { node, path } = stack.pop()!;
    for (const ch of node.children ?? []) {
      const name = ch.name.toString('latin1');
      const p = path === '' ? name : `${path}/${name}`;
      each(ch.ino, p, ch.dir !== null);
      if (ch.dir) stack.push({ node: ch, path: p });
    }
  }
}

function stateOf(h: Header, root: number, inodes: ChainState['inodes']): ChainState {
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
  // The state the caller checked: the last image applied, and the journal of this one.
  const base = readState(dest)!;
  const resume = base.applying?.date === opts.date ? base.applying.phase : null;
  if (resume !== null) sweepTemporaries(dest);
  const journal = (phase: 'moves' | 'place' | 'extract', inodes?: ChainState['inodes']) => {
    try {
      writeState(dest, { ...base, applying: { date: opts.date, phase, ...(inodes ? { inodes } : {}) } });
    } catch (e) {
      throw new SnapdumpError('ERR_OUTPUT', `cannot write the restore state ${statePath(dest)}: ${(e as Error).message}`, { path: statePath(dest) }, { cause: e });
    }
  };
  const sameEntry = (a: Entry, c: Entry | undefined) => c !== undefined && c.ino === a.ino && c.dir === a.dir;
  const removed: Entry[] = [];
  const added: Entry[] = [];
  for (const [k, e] of old) if (!sameEntry(e, next.get(k))) removed.push(e);
  for (const [k, e] of next) if (!sameEntry(e, old.get(k))) added.push(e);
  if (removed.length === 0 && added.length === 0) {
    if (resume !== 'extract') journal('extract', namesOf(next, root));
    return;
  }

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
  // A resumed run finds the holding directory of the interrupted one, with what it put aside.
  let made = resume !== null && fs.existsSync(holding);
  const isHeld = (ino: number) => made && fs.existsSync(`${holding}/${ino}`);
  const makeHolding = () => {
    if (made) return;
    try {
      fs.mkdirSync(holding, { mode: 0o700 });
    } catch (e) {
      throw new SnapdumpError('ERR_OUTPUT', `cannot create the holding directory ${holding}: ${(e as Error).message} (an earlier restore of this image was interrupted? move it away and apply the image again)`, { path: holding }, { cause: e });
    }
    made = true;
  };

  if (resume === 'place') {
    // Steps 1 and 2 were done: what is still held goes to its new name.
    for (const ino of rescueDirs) if (isHeld(ino)) held.add(ino);
    for (const ino of rescueFiles) if (!isHeld(ino)) rescueFiles.delete(ino);
  } else {
    journal('moves');
    putAsideAndRemove();
    journal('place');
  }
  crashPoint('after-moves');

  function putAsideAndRemove(): void {
    // 1. Put aside: files first (while every old path is valid), then directories, deepest first.
    for (const ino of rescueFiles) {
      if (isHeld(ino)) continue;
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
      if (isHeld(ino)) { held.add(ino); continue; }
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
  }

  real.clear();
  real.add(dest);
  // 3. Directories at their new names, parents first; then the files put aside.
  const newDirs = added.filter((e) => e.dir).sort((x, y) => (newRel.get(x.ino) ?? '').split('/').length - (newRel.get(y.ino) ?? '').split('/').length);
  let placed = 0;
  for (const e of newDirs) {
    if (++placed > newDirs.length / 2) crashPoint('mid-place');
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
  journal('extract', namesOf(next, root));
  crashPoint('before-extract');
}

/** The temporary names of files a killed restore was writing (safe-path.ts tempName). */
const TEMP_NAME = /^\.snapdump-restore\.[0-9]+\.[0-9]+$/;

/** Removes what a killed run left under temporary names in DEST; symlinks are never followed. */
function sweepTemporaries(dest: string): void {
  const stack = [dest];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let list: fs.Dirent[];
    try {
      list = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const d of list) {
      const p = `${dir}/${d.name}`;
      if (d.isDirectory()) stack.push(p);
      else if (d.isFile() && TEMP_NAME.test(d.name)) fs.rmSync(p, { force: true });
    }
  }
}

/**
 * Test hook: SNAPDUMP_TEST_CRASH=POINT kills the process there (SIGKILL, like a power cut), so
 * the tests can interrupt an incremental at each phase of its journal.
 */
function crashPoint(point: string): void {
  if (process.env.SNAPDUMP_TEST_CRASH === point) process.kill(process.pid, 'SIGKILL');
}
