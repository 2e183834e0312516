/**
 * `snapdump list`: the catalog of an image as `restore -t` prints it, or as JSON lines.
 */
import type { FileKind } from '../format/constants.js';
import { formatExactTime } from '../format/exact-times.js';
import { openTapeSource, type TapeInput } from '../tape/source.js';
import { buildCatalog, type DumpLabel } from './catalog.js';
import type { DamageCode } from './image-reader.js';

export interface ListEntry {
  /** './a/b', the raw bytes decoded as UTF-8 for display. */
  path: string;
  /** The path's raw bytes. */
  rawPath: Buffer;
  ino: number;
  type: FileKind;
  size: number;
  /** "SECONDS.NANOSECONDS" when the inode is on the tape (to the microsecond in Linux dump images). */
  mtime?: string;
  /** Birth time, "SECONDS.NANOSECONDS"; null when the image does not have it (Linux dump images). */
  birthtime?: string | null;
}

export interface ListDamage {
  /** Byte offset in the logical stream (all volumes in order, compressed records expanded). */
  offset: number;
  message: string;
  code: DamageCode;
}

export interface ListResult {
  label: DumpLabel;
  entries: ListEntry[];
  damage: ListDamage[];
  /** What restore would have printed on stderr while walking the tree (missing ".", ...). */
  warnings: string[];
}

export interface ListOptions {
  /** The image, or its volumes in order; '-' is standard input. */
  files: string[];
  signal?: AbortSignal;
  /** Byte streams instead of (or after) files, e.g. for tests. */
  inputs?: TapeInput[];
  /** Read size in bytes (default 1 MiB). */
  readSize?: number;
}

export async function listImage(opts: ListOptions): Promise<ListResult> {
  const source = await openTapeSource([...opts.files, ...(opts.inputs ?? [])], { signal: opts.signal, readSize: opts.readSize });
  try {
    const catalog = await buildCatalog(source);
    const entries: ListEntry[] = [];
    for (const e of catalog.entries()) {
      const t = catalog.times(e.ino);
      entries.push({
        path: e.path.toString('utf8'), rawPath: e.path, ino: e.ino, type: e.type, size: e.size,
        ...(t ? { mtime: formatExactTime(t.mtime.sec, t.mtime.nsec), birthtime: t.birth ? formatExactTime(t.birth.sec, t.birth.nsec) : null } : {}),
      });
    }
    return {
      label: catalog.label,
      entries,
      damage: catalog.damage.map(({ offset, message, code }) => ({ offset, message, code })),
      warnings: catalog.warnings,
    };
  } finally {
    await source.close();
  }
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** C ctime() in the local time zone, without the newline: "Sun Nov 22 01:38:32 2026". */
export function ctime(seconds: number): string {
  const d = new Date(seconds * 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${d.getFullYear()}`;
}

/** The lines restore -t prints before the names (printdumpinfo(), printvolinfo()). */
function headerLines(label: DumpLabel): string {
  let s = '';
  // restore writes this one on stderr, which lands first when both go to one file.
  if (label.compressed) s += 'Dump tape is compressed.\n';
  s += `Dump   date: ${ctime(label.date)}\n`;
  s += `Dumped from: ${label.ddate === 0 ? 'the epoch' : ctime(label.ddate)}\n`;
  if (label.host !== '') {
    s += `Level ${label.level} dump of ${label.filesys} on ${label.host}:${label.dev}\n`;
    s += `Label: ${label.label}\n`;
  }
  if (label.volumeStartInodes[0] === 2) {
    s += 'Starting inode numbers by volume:\n';
    label.volumeStartInodes.forEach((ino, i) => { s += `\tVolume ${i + 1}: ${ino}\n`; });
  }
  return s;
}

function entryPrefix(ino: number): string {
  return `${String(ino).padStart(10, ' ')}\t`;
}

/** Text identical to `restore -t` for the same image (names shown as UTF-8). */
export function formatListing(result: ListResult): string {
  const parts = [headerLines(result.label)];
  for (const e of result.entries) parts.push(`${entryPrefix(e.ino)}${e.path}\n`);
  return parts.join('');
}

/** The same as {@link formatListing} but with names as their raw bytes, as restore writes them. */
export function formatListingBytes(result: ListResult): Buffer {
  const parts: Buffer[] = [Buffer.from(headerLines(result.label), 'utf8')];
  const nl = Buffer.from('\n');
  for (const e of result.entries) parts.push(Buffer.from(entryPrefix(e.ino), 'latin1'), e.rawPath, nl);
  return Buffer.concat(parts);
}

/**
 * One JSON object per line: the label, then one per entry (path, ino, type, size, mtime and
 * birthtime when the inode is on the tape; plus pathBase64 when the name is not valid UTF-8),
 * then one per damage found.
 */
export function formatListingJson(result: ListResult): string {
  const l = result.label;
  const lines = [JSON.stringify({
    kind: 'label', date: l.date, dateText: ctime(l.date), ddate: l.ddate, ddateText: l.ddate === 0 ? null : ctime(l.ddate),
    level: l.level, label: l.label, filesys: l.filesys, dev: l.dev, host: l.host, flags: l.flags, ntrec: l.ntrec,
    byteOrder: l.byteOrder, compressed: l.compressed, compression: l.compression, volumes: l.volumes, maxino: l.maxino,
  })];
  for (const e of result.entries) {
    const exact = Buffer.byteLength(e.path) === e.rawPath.length && Buffer.from(e.path).equals(e.rawPath);
    lines.push(JSON.stringify({
      kind: 'entry', path: e.path, ...(exact ? {} : { pathBase64: e.rawPath.toString('base64') }),
      ino: e.ino, type: e.type, size: e.size,
      ...(e.mtime !== undefined ? { mtime: e.mtime, birthtime: e.birthtime ?? null } : {}),
    }));
  }
  for (const d of result.damage) lines.push(JSON.stringify({ kind: 'damage', offset: d.offset, code: d.code, message: d.message }));
  return lines.join('\n') + '\n';
}
