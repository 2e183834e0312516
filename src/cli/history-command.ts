/** `snapdump history [--state DIR] [--json]`: the dumpdates history, sorted by name then level. */
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import { defaultStateDir } from '../state/state-dir.js';
import { writeAllSync } from './output.js';
import { escapeName, isoTime, readDumpdates, type DumpdatesEntry } from '../state/dumpdates.js';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** ctime(3) text without its newline, `Thu Jan  1 00:00:00 2026`, as `dump -W` shows dates. */
export function ctimeText(date: number, utc = false): string {
  const d = new Date(date * 1000);
  const [day, mon, mday, h, m, s, year] = utc
    ? [d.getUTCDay(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCFullYear()]
    : [d.getDay(), d.getMonth(), d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getFullYear()];
  const two = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[day]} ${MONTHS[mon]} ${String(mday).padStart(2)} ${two(h)}:${two(m)}:${two(s)} ${year}`;
}

/** By name (code point order, stable whatever the locale), then level. */
export function sortHistory(entries: readonly DumpdatesEntry[]): DumpdatesEntry[] {
  return [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.level - b.level));
}

/**
 * One line per entry: name, level, date. Names are escaped as in the dumpdates file so that a
 * name with a newline or tab still takes exactly one line; the name column is padded to align.
 */
export function formatHistoryText(entries: readonly DumpdatesEntry[], opts: { utc?: boolean } = {}): string {
  const sorted = sortHistory(entries);
  const names = sorted.map((e) => escapeName(e.name));
  const width = Math.max(0, ...names.map((n) => [...n].length));
  return sorted.map((e, i) => {
    const name = names[i]!;
    return `${name}${' '.repeat(width - [...name].length)}  ${String(e.level).padStart(2)}  ${ctimeText(e.date, opts.utc)}\n`;
  }).join('');
}

/** One JSON object per line; the name is the real (unescaped) name. */
export function formatHistoryJson(entries: readonly DumpdatesEntry[]): string {
  return sortHistory(entries).map((e) => JSON.stringify({ name: e.name, level: e.level, date: e.date, time: isoTime(e.date) }) + '\n').join('');
}

/** Writes everything; a reader that went away (`| head`) just ends the output. */
export async function historyCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true, strict: true,
    options: { state: { type: 'string' }, json: { type: 'boolean' } },
  });
  if (positionals.length) throw new UsageError(`history takes no arguments, not "${positionals[0]}"`);
  if (values.state === '') throw new UsageError('--state needs a directory');
  // Read-only: a missing state directory is simply an empty history; a corrupt file throws
  // ERR_STATE, which main() reports with exit status 2.
  const entries = await readDumpdates(values.state ?? defaultStateDir());
  writeAllSync(1, values.json ? formatHistoryJson(entries) : formatHistoryText(entries));
  return 0;
}
