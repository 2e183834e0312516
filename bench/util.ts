/**
 * Small helpers shared by the benchmarks: deterministic random data, argument parsing,
 * statistics and plain-text tables. No dependency on snapdump itself.
 */
import { createCipheriv, createHash } from 'node:crypto';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (dist/bench/util.js → ../../). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** mulberry32: a tiny seeded 32-bit PRNG; returns floats in [0, 1). Used for sizes and shapes only. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Incompressible, deterministic bytes: AES-128-CTR keystream (encryption of zeros) under a key
 * derived from `label`. Runs at several GB/s with AES-NI, so generating gigabytes is disk-bound.
 */
export class KeyStream {
  private readonly cipher;
  private readonly zeros: Buffer;

  constructor(label: string, private readonly blockBytes = 8 << 20) {
    const key = createHash('sha256').update(`snapdump-bench:${label}`).digest().subarray(0, 16);
    this.cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
    this.zeros = Buffer.alloc(blockBytes);
  }

  /** The next `n` bytes of the stream (n ≤ the block size given to the constructor). */
  next(n = this.blockBytes): Buffer {
    if (n > this.blockBytes) throw new RangeError(`KeyStream.next(${n}) beyond its ${this.blockBytes}-byte block`);
    return this.cipher.update(n === this.blockBytes ? this.zeros : this.zeros.subarray(0, n));
  }
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface ParsedArgs {
  positionals: string[];
  flags: Set<string>;
  values: Map<string, string>;
}

/** `--flag`, `--key value`, `--key=value` (for keys listed in `valued`), and positionals. */
export function parseArgs(argv: readonly string[], valued: readonly string[]): ParsedArgs {
  const out: ParsedArgs = { positionals: [], flags: new Set(), values: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) { out.positionals.push(a); continue; }
    const eq = a.indexOf('=');
    const key = eq >= 0 ? a.slice(2, eq) : a.slice(2);
    if (valued.includes(key)) {
      const v = eq >= 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new Error(`--${key} needs a value`);
      out.values.set(key, v);
    } else {
      out.flags.add(key);
    }
  }
  return out;
}

/** Renders rows as an aligned plain-text table (numbers right-aligned). */
export function renderTable(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const cells = [header.map(String), ...rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)))];
  const numeric = header.map((_, col) => rows.length > 0 && rows.every((r) => typeof r[col] === 'number' || /^[\d.,x×%+-]+$|^–$/.test(String(r[col]))));
  const widths = header.map((_, col) => Math.max(...cells.map((r) => (r[col] ?? '').length)));
  const line = (r: readonly string[]) => r.map((c, col) => (numeric[col] ? c.padStart(widths[col]!) : c.padEnd(widths[col]!))).join('  ').trimEnd();
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** Human number: thousands separators, 3 significant digits below 100. */
export function fmt(n: number, digits?: number): string {
  if (!Number.isFinite(n)) return '–';
  if (digits !== undefined) return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const abs = Math.abs(n);
  if (abs >= 100) return Math.round(n).toLocaleString('en-US');
  if (abs >= 10) return n.toFixed(1);
  if (abs >= 1) return n.toFixed(2);
  return n.toPrecision(3);
}

export function log(text: string): void {
  process.stderr.write(`[bench] ${text}\n`);
}
