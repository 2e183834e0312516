/**
 * Fixtures for the format / pipeline / tape unit tests: the real Linux dump 0.4b47 sample images
 * in ../shared/samples, a parser for their `*.decoded` listings (written by the independent
 * decode-dump.py), and a few independent re-implementations of format rules (word sum, header
 * walk, byte swapping) so tests never compare the code under test with itself.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const sharedDir = path.resolve(repoRoot, '../shared');
export const samplesDir = path.join(sharedDir, 'samples/linux-dump-0.4b47');
export const decodeTool = path.join(sharedDir, 'tools/decode-dump.py');

export const BLOCK = 1024;

const imageCache = new Map<string, Buffer>();

/** A sample image (cached; treat as read-only). */
export function readSample(name: string): Buffer {
  let b = imageCache.get(name);
  if (!b) {
    b = fs.readFileSync(path.join(samplesDir, name));
    imageCache.set(name, b);
  }
  return b;
}

/** Block `n` of a buffer (a view). */
export function block(buf: Buffer, n: number): Buffer {
  return buf.subarray(n * BLOCK, (n + 1) * BLOCK);
}

// ---------------------------------------------------------------------------------------------
// *.decoded listings

export interface DecodedDirEntry { off: number; ino: number; reclen: number; type: string; namlen: number; name: string }
export interface DecodedEa { idx: number; name: string; valueOffs: number; size: number; value: string }

export interface DecodedHeader {
  block: number;
  type: string;
  ino: number;
  count: number;
  tapea: number;
  vol: number;
  /** e.g. "NEWINODEFMT/INODEINFO|EXTATTRIBUTES" */
  flags: string;
  ext?: string;
  /** key=value pairs of the detail lines (mode, size, label, atime...), raw text. */
  fields: Record<string, string>;
  /** For TS_INODE: the file kind word (dir, reg, lnk, chr, blk, fifo, sock). */
  kind?: string;
  mapInodes?: number[];
  dirEntries?: DecodedDirEntry[];
  eaKind?: 'inode' | 'block';
  eas?: DecodedEa[];
}

function parseRanges(text: string): number[] {
  if (text === '(none)') return [];
  const out: number[] = [];
  for (const part of text.split(',')) {
    const [a, b] = part.split('-').map(Number);
    for (let i = a!; i <= (b ?? a!); i++) out.push(i);
  }
  return out;
}

function parseKeyValues(line: string, into: Record<string, string>): void {
  const re = /(\w+)(?:\(db\[0\]\))?=('(?:[^'\\]|\\.)*'|\S+)/g;
  for (const m of line.matchAll(re)) {
    let v = m[2]!;
    if (v.startsWith("'") && v.endsWith("'")) v = v.slice(1, -1);
    into[m[1]!] = v;
  }
}

const decodedCache = new Map<string, DecodedHeader[]>();

/** Parses `<sample>.decoded` (decode-dump.py --dirs --maps --xattr output). */
export function readDecoded(name: string): DecodedHeader[] {
  const cached = decodedCache.get(name);
  if (cached) return cached;
  const out = parseDecoded(fs.readFileSync(path.join(samplesDir, name), 'utf8'));
  decodedCache.set(name, out);
  return out;
}

/** Parses decode-dump.py output. */
export function parseDecoded(text: string): DecodedHeader[] {
  const out: DecodedHeader[] = [];
  let cur: DecodedHeader | null = null;
  for (const line of text.split('\n')) {
    const hm = /^#(\d+)\s+(TS_\w+)\s+ino=(\d+)\s+count=(-?\d+)\s+tapea=(\d+)\s+vol=(\d+) flags=(\S*)(?: ext=(\S+))?/.exec(line);
    if (hm) {
      cur = {
        block: Number(hm[1]), type: hm[2]!, ino: Number(hm[3]), count: Number(hm[4]), tapea: Number(hm[5]),
        vol: Number(hm[6]), flags: hm[7]!, fields: {},
      };
      if (hm[8]) cur.ext = hm[8];
      out.push(cur);
      continue;
    }
    if (!cur || !line.startsWith('    ')) continue;
    const t = line.trim();
    let m: RegExpExecArray | null;
    if ((m = /^map: \d+ inodes set: (\S+)$/.exec(t))) {
      cur.mapInodes = parseRanges(m[1]!);
    } else if ((m = /^off=(\d+)\s+ino=(\d+)\s+reclen=(\d+)\s+type=(\w+)\s+namlen=(\d+)\s+'(.*)'$/.exec(t))) {
      (cur.dirEntries ??= []).push({
        off: Number(m[1]), ino: Number(m[2]), reclen: Number(m[3]), type: m[4]!, namlen: Number(m[5]), name: m[6]!,
      });
    } else if (t.startsWith('in-inode EA')) {
      cur.eaKind = 'inode';
    } else if (t.startsWith('block EA')) {
      cur.eaKind = 'block';
    } else if ((m = /^EA idx=(\d+) name=(\S+) value_offs=(\d+) size=(\d+) value=(.*)$/.exec(t))) {
      (cur.eas ??= []).push({ idx: Number(m[1]), name: m[2]!, valueOffs: Number(m[3]), size: Number(m[4]), value: m[5]! });
    } else if ((m = /^(dir|reg|lnk|chr|blk|fifo|sock) (mode=.*)$/.exec(t))) {
      cur.kind = m[1]!;
      parseKeyValues(m[2]!, cur.fields);
    } else if (/^(magic|label|atime)=/.test(t)) {
      parseKeyValues(t, cur.fields);
    } else if (t.startsWith('map size')) {
      const sm = /di_size\)=(\d+)/.exec(t);
      if (sm) cur.fields['size'] = sm[1]!;
    }
  }
  return out;
}

/** "NEWHEADER|NEWINODEFMT/INODEINFO|EXTATTRIBUTES" → numeric c_flags (the names decode-dump.py prints). */
export function flagsFromText(text: string): number {
  const bits: Record<string, number> = {
    NEWHEADER: 0x1, 'NEWINODEFMT/INODEINFO': 0x2, COMPRESSED: 0x80, METAONLY: 0x100, EXTATTRIBUTES: 0x8000,
  };
  let v = 0;
  for (const part of text.split('|')) {
    if (part === '' || part === '0' || part === '0x0') continue;
    const b = bits[part];
    if (b === undefined) throw new Error(`unknown flag name ${part}`);
    v |= b;
  }
  return v;
}

export const TYPE_NUMBERS: Record<string, number> = { TS_TAPE: 1, TS_INODE: 2, TS_BITS: 3, TS_ADDR: 4, TS_END: 5, TS_CLRI: 6 };

// ---------------------------------------------------------------------------------------------
// Independent format rules

/** Wrapping sum of the 256 32-bit words of the block at `offset`. */
export function wordSum(buf: Uint8Array, offset = 0, littleEndian = true): number {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let s = 0;
  for (let i = 0; i < BLOCK; i += 4) {
    s = (s + (littleEndian ? b.readUInt32LE(offset + i) : b.readUInt32BE(offset + i))) % 0x100000000;
  }
  return s;
}

export interface RawHeader { block: number; type: number; inumber: number; count: number; flags: number; size: number; dataBlocks: number }

/**
 * Walks a little-endian image from block 0 with the rule of DUMP-FORMAT.md §1.5, reading the
 * raw fields (no header.ts involved). Stops at the first TS_END or at a non-header block.
 */
export function walkImage(buf: Buffer): RawHeader[] {
  const out: RawHeader[] = [];
  let blk = 0;
  while ((blk + 1) * BLOCK <= buf.length) {
    const o = blk * BLOCK;
    if (buf.readInt32LE(o + 24) !== 60012 || wordSum(buf, o, true) !== 84446) break;
    const type = buf.readInt32LE(o);
    const count = buf.readInt32LE(o + 160);
    const flags = buf.readInt32LE(o + 888);
    let data = 0;
    if (type === 3 || type === 6) data = count;
    else if (type === 2 || type === 4) {
      for (let i = 0; i < Math.min(count, 512); i++) if (buf[o + 164 + i] !== 0) data++;
    }
    out.push({ block: blk, type, inumber: buf.readUInt32LE(o + 20), count, flags, size: Number(buf.readBigUInt64LE(o + 40)), dataBlocks: data });
    if (type === 5) break;
    blk += 1 + data;
  }
  return out;
}

/**
 * Converts an encoded little-endian header into the big-endian one a big-endian Linux dump would
 * write, following DUMP-FORMAT.md §1.6 (restore's swap pattern: 8 int32, 4 int16, 1 int64,
 * 29 int32, 528 bytes, 1 int32, 192 bytes, 4 int32; the spare words are left alone, so keep
 * them zero), then recomputes the checksum in big-endian.
 */
export function toBigEndianHeader(le: Uint8Array): Buffer {
  const out = Buffer.from(le.slice(0, BLOCK));
  const pattern: Array<[kind: 'l' | 's' | 'q' | 'b', n: number]> = [
    ['l', 8], ['s', 4], ['q', 1], ['l', 29], ['b', 528], ['l', 1], ['b', 192], ['l', 4],
  ];
  let o = 0;
  for (const [kind, n] of pattern) {
    for (let i = 0; i < n; i++) {
      if (kind === 'l') { out.writeUInt32BE(out.readUInt32LE(o), o); o += 4; }
      else if (kind === 's') { out.writeUInt16BE(out.readUInt16LE(o), o); o += 2; }
      else if (kind === 'q') { out.writeBigUInt64BE(out.readBigUInt64LE(o), o); o += 8; }
      else o += 1;
    }
  }
  if (o !== 904) throw new Error(`swap pattern covers ${o} bytes`);
  out.writeUInt32BE(0, 28);
  const sum = wordSum(out, 0, false);
  out.writeUInt32BE((84446 - sum + 0x100000000) % 0x100000000, 28);
  return out;
}

/** Runs decode-dump.py on an image file; null when python3 or the tool is unavailable. */
export function runDecodeTool(file: string, ...opts: string[]): string | null {
  if (!fs.existsSync(decodeTool)) return null;
  const r = spawnSync('python3', [decodeTool, ...opts, file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error || r.status !== 0) return null;
  return r.stdout;
}

/** The volume fields of samples/level0.dump's TS_TAPE (block 0). */
export const LEVEL0_VOLUME = {
  date: 1795311507, ddate: 0, volume: 1, level: 0, label: 'level0-label', filesys: 'an unlisted file system',
  dev: '/dev/loop1', host: 'vm', ntrec: 10, maxino: 16385,
};

/** Deterministic pseudo-random bytes (xorshift32), for data blocks that must differ. */
export function patternBytes(length: number, seed: number): Buffer {
  const b = Buffer.alloc(length);
  let x = (seed | 0) || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}
