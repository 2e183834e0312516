/**
 * The persistent inode map of one dump name: which dump inode number each source object has,
 * for sources whose own inode numbers cannot serve as dump numbers (too large, or colliding
 * with the reserved 0-2, as on tmpfs). Inode numbers are the identity of files across the
 * levels of a chain (DUMP-FORMAT.md §7.2), so every backup of the name gives a surviving object
 * the number it had before.
 *
 * Objects are keyed by the source's st_ino alone: one dump name is one file system (or its
 * snapshots: a btrfs snapshot keeps the inode numbers of its subvolume but has its own st_dev,
 * so st_dev cannot be part of the key). An object on another device (a mount point, dumped as
 * an empty directory) is keyed by its path instead, since its st_ino may equal one of the
 * source's.
 *
 * A number whose object is gone is freed with the date of the backup that found it gone, and
 * is given again only to an object whose mtime is after that date. Such an object is dumped by
 * every incremental based on an image in which the number still had its old owner, so a
 * restore (ours or restore -r) replaces the old object instead of taking the new one for it.
 *
 * File `STATE/inodes/<hash of the name>.map`, text, one record per line, read strictly (a bad
 * line is ERR_STATE naming file and line), replaced atomically, locked for a whole backup:
 *
 *     # snapdump inode map v1
 *     name <TAB> NAME (escaped as in dumpdates)
 *     next <TAB> N                  the lowest number never given out
 *     o <TAB> KEY <TAB> INO         an object present at the last backup (KEY: st_ino, or p:HEX-PATH)
 *     f <TAB> INO <TAB> SECONDS     a free number and the date it was freed
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { SnapdumpError, isErrno } from '../errors.js';
import { escapeName, unescapeName } from './dumpdates.js';
import { acquireLock, atomicWrite, openStateDir, type LockOptions } from './state-dir.js';

export const INODE_MAP_DIR = 'inodes';
const HEADER = '# snapdump inode map v1';
/** The first number a map gives out: 0 and 1 are unused by dump, 2 is the root. */
export const FIRST_MAPPED = 3;
/** Dump inode numbers are 32-bit; the maps on tape need maxino / 8 bytes. */
const MAX_NUMBER = 0x7fff_ffff;

export interface InodeMapData {
  name: string;
  next: number;
  /** Key (see keyOf*) → dump inode number, for every object present at the last backup. */
  objects: Map<string, number>;
  /** Free number → Unix seconds of the backup that found its object gone. */
  free: Map<number, number>;
}

export function emptyInodeMap(name: string): InodeMapData {
  return { name, next: FIRST_MAPPED, objects: new Map(), free: new Map() };
}

/** Key of an object on the source's own device. */
export function keyOfIno(stIno: number): string {
  return String(stIno);
}

/** Key of an object on another device (a mount point), by its path relative to the source. */
export function keyOfPath(rel: Buffer): string {
  return `p:${rel.toString('hex')}`;
}

export function inodeMapFile(stateDir: string, name: string): string {
  const id = crypto.createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 32);
  return path.join(path.resolve(stateDir), INODE_MAP_DIR, `${id}.map`);
}

export function formatInodeMap(d: InodeMapData): string {
  const out: string[] = [HEADER, `name\t${escapeName(d.name)}`, `next\t${d.next}`];
  for (const [k, n] of d.objects) out.push(`o\t${k}\t${n}`);
  for (const [n, at] of d.free) out.push(`f\t${n}\t${at}`);
  return out.join('\n') + '\n';
}

const NUMBER = /^(0|[1-9][0-9]{0,15})$/;

export function parseInodeMap(text: string, file: string): InodeMapData {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  function fail(lineNo: number, why: string): never {
    throw new SnapdumpError('ERR_STATE', `${file}, line ${lineNo}: ${why}`, { path: file, line: lineNo });
  }
  if (lines[0] !== HEADER) fail(1, `not a snapdump inode map (expected "${HEADER}")`);
  const nameLine = lines[1]?.split('\t');
  const name = nameLine?.length === 2 && nameLine[0] === 'name' ? unescapeName(nameLine[1]!) : null;
  if (!name) fail(2, 'expected "name<TAB>NAME"');
  const nextLine = lines[2]?.split('\t');
  if (nextLine?.length !== 2 || nextLine[0] !== 'next' || !NUMBER.test(nextLine[1]!)) fail(3, 'expected "next<TAB>NUMBER"');
  const d: InodeMapData = { name, next: Number(nextLine[1]), objects: new Map(), free: new Map() };
  if (d.next < FIRST_MAPPED || d.next > MAX_NUMBER + 1) fail(3, `next number ${d.next} out of range`);
  const taken = new Set<number>();
  const number = (lineNo: number, text: string): number => {
    if (!NUMBER.test(text)) fail(lineNo, `bad inode number ${JSON.stringify(text)}`);
    const n = Number(text);
    if (n < FIRST_MAPPED || n >= d.next) fail(lineNo, `inode number ${n} outside ${FIRST_MAPPED}..${d.next - 1}`);
    if (taken.has(n)) fail(lineNo, `inode number ${n} appears twice`);
    taken.add(n);
    return n;
  };
  for (let i = 3; i < lines.length; i++) {
    const lineNo = i + 1;
    const f = lines[i]!.split('\t');
    if (f.length !== 3) fail(lineNo, `expected 3 tab-separated fields, found ${f.length}`);
    if (f[0] === 'o') {
      const key = f[1]!;
      if (!NUMBER.test(key) && !/^p:([0-9a-f]{2})+$/.test(key)) fail(lineNo, `bad key ${JSON.stringify(key)}`);
      if (d.objects.has(key)) fail(lineNo, `key ${key} appears twice`);
      d.objects.set(key, number(lineNo, f[2]!));
    } else if (f[0] === 'f') {
      const n = number(lineNo, f[1]!);
      if (!NUMBER.test(f[2]!)) fail(lineNo, `bad date ${JSON.stringify(f[2])}`);
      d.free.set(n, Number(f[2]));
    } else {
      fail(lineNo, `unknown record ${JSON.stringify(f[0])}`);
    }
  }
  return d;
}

/** One object of a walk, as the numbering sees it. */
export interface MapObject {
  key: string;
  mtimeSec: number;
  /** A number to give it when it is not in the map yet (seeding from the source's own), or 0. */
  seed: number;
}

/**
 * Numbers the objects of one backup taken at `date` and returns the map to store once the
 * image is complete. Known keys keep their number; a new object takes its seed if free, else a
 * freed number whose freeing date is before its mtime, else a number never given out. Numbers
 * of objects that are gone are freed at `date` (so never given again in this same backup).
 */
export function assignNumbers(d: InodeMapData, objs: readonly MapObject[], date: number): { numbers: Int32Array; next: InodeMapData } {
  const numbers = new Int32Array(objs.length);
  const used = new Set<number>();
  const fresh: number[] = [];
  objs.forEach((o, i) => {
    const n = d.objects.get(o.key);
    if (n !== undefined && !used.has(n)) { numbers[i] = n; used.add(n); } else fresh.push(i);
  });
  const heldByOthers = new Set(d.objects.values());
  const free = new Map(d.free);
  let next = d.next;
  const rest: number[] = [];
  for (const i of fresh) {
    const s = objs[i]!.seed;
    if (s >= FIRST_MAPPED && !used.has(s) && !heldByOthers.has(s) && !free.has(s)) {
      numbers[i] = s;
      used.add(s);
      if (s >= next) next = s + 1;
    } else {
      rest.push(i);
    }
  }
  // Oldest frees first, objects by ascending mtime: every free number whose date is before an
  // object's mtime is eligible for it and for every later one.
  const frees = [...free].sort((a, b) => a[1] - b[1] || a[0] - b[0]);
  rest.sort((a, b) => objs[a]!.mtimeSec - objs[b]!.mtimeSec || a - b);
  const eligible: number[] = [];
  let f = 0;
  for (const i of rest) {
    while (f < frees.length && frees[f]![1] < objs[i]!.mtimeSec) eligible.push(frees[f++]![0]);
    let n = eligible.pop();
    while (n !== undefined && used.has(n)) n = eligible.pop();
    if (n === undefined) {
      while (used.has(next)) next++;
      if (next > MAX_NUMBER) throw new SnapdumpError('ERR_UNSUPPORTED', `the inode map of "${d.name}" has run out of dump inode numbers`);
      n = next++;
    } else {
      free.delete(n);
    }
    numbers[i] = n;
    used.add(n);
  }
  const objects = new Map<string, number>();
  objs.forEach((o, i) => objects.set(o.key, numbers[i]!));
  for (const [k, n] of d.objects) if (!objects.has(k) && !used.has(n)) free.set(n, date);
  for (const n of used) free.delete(n);
  return { numbers, next: { name: d.name, next, objects, free } };
}

/** The map of a dump name, locked until release(): read it, number a backup, store the result. */
export interface InodeMapHandle {
  readonly file: string;
  /** Whether the map existed before this backup. */
  readonly existed: boolean;
  readonly data: InodeMapData;
  commit(next: InodeMapData): Promise<void>;
  release(): Promise<void>;
}

export function inodeMapExists(stateDir: string, name: string): boolean {
  return fs.existsSync(inodeMapFile(stateDir, name));
}

export async function openInodeMap(stateDir: string, name: string, opts: { lock?: LockOptions } = {}): Promise<InodeMapHandle> {
  const abs = await openStateDir(stateDir, { create: true });
  const file = inodeMapFile(abs, name);
  try {
    await fsp.mkdir(path.dirname(file), { mode: 0o700 });
  } catch (e) {
    if (!isErrno(e, 'EEXIST')) throw new SnapdumpError('ERR_STATE', `cannot create ${path.dirname(file)}: ${(e as Error).message}`, { path: path.dirname(file) }, { cause: e });
  }
  // One lock per map: backups of other names go on in parallel.
  const release = await acquireLock(path.dirname(file), path.basename(file), opts.lock);
  try {
    let text: string | null = null;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw new SnapdumpError('ERR_STATE', `cannot read ${file}: ${(e as Error).message}`, { path: file }, { cause: e });
    }
    const data = text === null ? emptyInodeMap(name) : parseInodeMap(text, file);
    if (data.name !== name) {
      throw new SnapdumpError('ERR_STATE', `${file} is the inode map of ${JSON.stringify(data.name)}, not of ${JSON.stringify(name)}`, { path: file });
    }
    return {
      file, existed: text !== null, data, release,
      commit: (next) => atomicWrite(file, formatInodeMap(next), 0o600),
    };
  } catch (e) {
    await release();
    throw e;
  }
}
