/**
 * The dumpdates history, `STATE/dumpdates`: one line per (dump name, level) with the date of
 * the last backup of that level. It is what an incremental backup looks up to find its base.
 *
 * Line format (UTF-8, tab-separated, one entry per line, `#` lines are comments):
 *
 *     NAME <TAB> LEVEL <TAB> UNIX-SECONDS <TAB> UTC-TIME
 *     /home/alice	0	1767225600	2026-01-01T00:00:00Z
 *
 * Tabs separate the fields because they are rare in paths, so ordinary names, spaces included,
 * appear verbatim. In NAME a backslash, tab, newline and carriage return are written `\\`,
 * `\t`, `\n`, `\r`, any other control character (and a leading `#`) as `\xHH`. UTC-TIME is a
 * readable copy of UNIX-SECONDS and must agree with it. Reading is strict: a line with a wrong
 * field count, bad escape, bad level or date, disagreeing time or a repeated (name, level) is an
 * ERR_STATE error naming the file and line, because a silently skipped line would make the next
 * incremental pick an older base (or none) and quietly grow into a full backup.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { SnapdumpError, UsageError, isErrno } from '../errors.js';
import { atomicWrite, openStateDir, withLock, type LockOptions } from './state-dir.js';

export const DUMPDATES_FILE = 'dumpdates';
export const MAX_LEVEL = 31;
/** The last second a JavaScript Date (and so the readable time) can show. */
const MAX_DATE = 8_640_000_000_000;

export interface DumpdatesEntry {
  name: string;
  level: number;
  /** Unix seconds: the date of the backup's snapshot (its c_date), not when it finished. */
  date: number;
}

const HEADER = '# snapdump dumpdates v1: NAME<TAB>LEVEL<TAB>UNIX-SECONDS<TAB>UTC-TIME (NAME escapes \\\\ \\t \\n \\r \\xHH)\n';

export function dumpdatesPath(dir: string): string {
  return path.join(dir, DUMPDATES_FILE);
}

export function validateLevel(level: unknown): number {
  if (typeof level !== 'number' || !Number.isInteger(level) || level < 0 || level > MAX_LEVEL) {
    throw new SnapdumpError('ERR_LEVEL', `level must be an integer 0..${MAX_LEVEL}, not ${String(level)}`, { level });
  }
  return level;
}

export function isoTime(date: number): string {
  return new Date(date * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

const NAMED_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

export function escapeName(name: string): string {
  const body = name.replace(/[\\\t\n\r\x00-\x1f\x7f]/g, (c) => NAMED_ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return body.startsWith('#') ? '\\x23' + body.slice(1) : body;
}

/** The inverse of escapeName; null for an escape escapeName never writes. */
export function unescapeName(text: string): string | null {
  let bad = false;
  const out = text.replace(/\\(x[0-9a-fA-F]{2}|.|$)/g, (_m, e: string) => {
    if (e === '\\') return '\\';
    if (e === 't') return '\t';
    if (e === 'n') return '\n';
    if (e === 'r') return '\r';
    if (e.length === 3 && parseInt(e.slice(1), 16) < 0x80) return String.fromCharCode(parseInt(e.slice(1), 16));
    bad = true;
    return '';
  });
  return bad ? null : out;
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) throw new UsageError('the dump name must be a non-empty string');
  // A lone surrogate cannot be written as UTF-8 and would come back as U+FFFD: another name.
  if (/[\uD800-\uDFFF]/u.test(name)) throw new UsageError(`the dump name ${JSON.stringify(name)} is not valid Unicode`);
  return name;
}

function checkDate(date: unknown): number {
  if (typeof date !== 'number' || !Number.isInteger(date) || date < 0 || date > MAX_DATE) {
    throw new SnapdumpError('ERR_INTERNAL', `a dump date must be whole Unix seconds >= 0, not ${String(date)}`);
  }
  return date;
}

export function formatDumpdates(entries: readonly DumpdatesEntry[]): string {
  return HEADER + entries.map((e) => `${escapeName(e.name)}\t${e.level}\t${e.date}\t${isoTime(e.date)}\n`).join('');
}

/** Parses the text of a dumpdates file; `file` is only used to name it in errors. */
export function parseDumpdates(text: string, file: string): DumpdatesEntry[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop(); // the final newline ends the last line
  const entries: DumpdatesEntry[] = [];
  const seen = new Map<string, number>();
  lines.forEach((line, i) => {
    const lineNo = i + 1;
    // A function declaration, so that TypeScript narrows after a call to it.
    function fail(why: string): never {
      throw new SnapdumpError('ERR_STATE', `${file}, line ${lineNo}: ${why}`, { path: file, line: lineNo });
    }
    if (line.startsWith('#')) return;
    const fields = line.split('\t');
    if (fields.length !== 4) fail(`expected 4 tab-separated fields (name, level, date, time), found ${fields.length}`);
    const [rawName, rawLevel, rawDate, rawTime] = fields as [string, string, string, string];
    const name = unescapeName(rawName);
    if (name === null || name === '' || /[\x00-\x1f\x7f]/.test(rawName)) fail(`bad name ${JSON.stringify(rawName)}`);
    if (!/^(0|[1-9][0-9]?)$/.test(rawLevel) || Number(rawLevel) > MAX_LEVEL) fail(`bad level ${JSON.stringify(rawLevel)} (expected 0..${MAX_LEVEL})`);
    if (!/^(0|[1-9][0-9]{0,12})$/.test(rawDate) || Number(rawDate) > MAX_DATE) fail(`bad date ${JSON.stringify(rawDate)} (expected Unix seconds)`);
    const level = Number(rawLevel);
    const date = Number(rawDate);
    if (rawTime !== isoTime(date)) fail(`time ${JSON.stringify(rawTime)} does not match date ${date} (${isoTime(date)})`);
    const key = `${level}\t${name}`;
    const first = seen.get(key);
    if (first !== undefined) fail(`a second entry for ${JSON.stringify(name)} level ${level} (first on line ${first})`);
    seen.set(key, lineNo);
    entries.push({ name, level, date });
  });
  return entries;
}

/** Every entry of `dir`'s dumpdates file; a missing directory or file is an empty history. */
export async function readDumpdates(dir: string): Promise<DumpdatesEntry[]> {
  const file = dumpdatesPath(path.resolve(dir));
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return [];
    throw new SnapdumpError('ERR_STATE', `cannot read ${file}: ${(e as Error).message}`, { path: file }, { cause: e });
  }
  return parseDumpdates(text, file);
}

/**
 * The base of a level-`level` backup of `name`: the most recent (greatest date) entry of the
 * same name with a lower level, or null (level 0, or no lower level recorded: a full backup).
 * The rule of Linux dump's getdumptime. On equal dates (two backups in one second) Linux dump
 * takes the first in file order, which is not a time order; the higher level is taken here, as
 * the nearer link of the chain. Either way the base date, and so the image content, is the same.
 */
export function findBase(entries: readonly DumpdatesEntry[], name: string, level: number): DumpdatesEntry | null {
  validateLevel(level);
  let best: DumpdatesEntry | null = null;
  for (const e of entries) {
    if (e.name !== name || e.level >= level) continue;
    if (best === null || e.date > best.date || (e.date === best.date && e.level > best.level)) best = e;
  }
  return best;
}

export interface RecordOptions {
  lock?: LockOptions;
}

/**
 * Records a finished backup: under the state lock, re-reads the file (another backup may have
 * finished meanwhile), replaces the line of (name, level) in place or appends it, and writes the
 * file atomically. Returns the entries now in the file.
 *
 * Lines of the same name with a HIGHER level are kept, as Linux dump -u does (itime.c,
 * putdumptime: it replaces only the matching name and level and rewrites every other line).
 * They cannot mislead findBase: being older than the new lower-level entry, they never have
 * the greatest date among the candidates, and they remain true history of images that exist.
 */
export async function recordDump(dir: string, entry: DumpdatesEntry, opts: RecordOptions = {}): Promise<DumpdatesEntry[]> {
  const record: DumpdatesEntry = { name: checkName(entry.name), level: validateLevel(entry.level), date: checkDate(entry.date) };
  const abs = await openStateDir(dir, { create: true });
  return withLock(abs, DUMPDATES_FILE, async () => {
    const entries = await readDumpdates(abs);
    const at = entries.findIndex((e) => e.name === record.name && e.level === record.level);
    if (at >= 0) entries[at] = record;
    else entries.push(record);
    await atomicWrite(dumpdatesPath(abs), formatDumpdates(entries));
    return entries;
  }, opts.lock);
}
