/**
 * Deterministic benchmark data sets, generated once and reused.
 *
 * - small: N files of 1–16 KiB (uniform byte sizes) of incompressible data, 100 per leaf directory,
 *   leaf directories in a tree of fan-out 10 (100,000 files → 1,000 leaves, 1,111 directories
 *   counting the root, as in ANCHORS.md).
 * - large: K files of S bytes of incompressible data in the root.
 *
 * Each set lives in `<workdir>/<name>/` with its parameters in `<workdir>/<name>.json`, written
 * only after the tree is complete: a matching marker means "reuse". The marker is kept outside the
 * tree so it is not part of what is backed up. A tree without a matching marker is moved aside (not
 * deleted: creating many files right after deleting many is very slow on this ext4, see ANCHORS.md)
 * and the caller removes the stale copies at the end of the run.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KeyStream, log, seededRandom } from './util.js';

export interface DatasetParams {
  kind: 'small' | 'large';
  /** Regular files in the set. */
  files: number;
  /** small: smallest and largest file size in bytes; large: both equal the file size. */
  minSize: number;
  maxSize: number;
  /** small: files per leaf directory; large: unused (0). */
  perDir: number;
  seed: number;
  /** Bump when the generator changes so old sets are not reused. */
  version: number;
}

export interface Dataset {
  name: string;
  params: DatasetParams;
  dir: string;
  /** Regular files, directories (including the root) and the sum of file sizes. */
  files: number;
  directories: number;
  bytes: number;
  /** Sizes of all files rounded up to 4 KiB, for sizing an ext4 image. */
  allocatedBytes: number;
}

interface Marker {
  params: DatasetParams;
  files: number;
  directories: number;
  bytes: number;
  allocatedBytes: number;
  createdAt: string;
  generationSeconds: number;
}

const GENERATOR_VERSION = 1;

export function smallParams(quick: boolean): DatasetParams {
  return { kind: 'small', files: quick ? 10_000 : 100_000, minSize: 1024, maxSize: 16384, perDir: 100, seed: 1, version: GENERATOR_VERSION };
}

export function largeParams(quick: boolean): DatasetParams {
  const size = (quick ? 64 : 512) << 20;
  return { kind: 'large', files: 4, minSize: size, maxSize: size, perDir: 0, seed: 2, version: GENERATOR_VERSION };
}

export function datasetName(p: DatasetParams): string {
  return p.kind === 'small' ? `small-${p.files}f` : `large-${p.files}x${p.maxSize >> 20}M`;
}

const sameParams = (a: DatasetParams, b: DatasetParams) => JSON.stringify(a) === JSON.stringify(b);

/** Leaf directory paths (relative) of a fan-out-10 tree with at least `leaves` leaves, and the directory count. */
function leafDirs(leaves: number): { leaves: string[]; directories: number } {
  let depth = 0;
  while (10 ** depth < leaves) depth++;
  let level: string[] = [''];
  let directories = 1; // the root
  for (let d = 0; d < depth; d++) {
    const next: string[] = [];
    for (const parent of level) for (let i = 0; i < 10; i++) next.push(parent ? `${parent}/d${i}` : `d${i}`);
    directories += next.length;
    level = next;
  }
  return { leaves: level.slice(0, Math.max(1, leaves)), directories: directories - (level.length - Math.max(1, leaves)) };
}

const roundUp4k = (n: number) => Math.ceil(n / 4096) * 4096;

function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
}

function generateSmall(dir: string, p: DatasetParams): Omit<Marker, 'params' | 'createdAt' | 'generationSeconds'> {
  const rng = seededRandom(p.seed);
  const stream = new KeyStream(`small:${p.seed}`, 16 << 20);
  let pool = stream.next();
  let poolPos = 0;
  const tree = leafDirs(Math.ceil(p.files / p.perDir));
  let bytes = 0;
  let allocatedBytes = tree.directories * 4096;
  let made = 0;
  fs.mkdirSync(dir, { recursive: true });
  for (const leaf of tree.leaves) {
    const leafPath = path.join(dir, leaf);
    fs.mkdirSync(leafPath, { recursive: true });
    for (let i = 0; i < p.perDir && made < p.files; i++, made++) {
      const size = p.minSize + Math.floor(rng() * (p.maxSize - p.minSize + 1));
      if (poolPos + size > pool.length) { pool = stream.next(); poolPos = 0; }
      const fd = fs.openSync(path.join(leafPath, `f${String(made).padStart(6, '0')}.bin`), 'wx');
      try { writeAll(fd, pool.subarray(poolPos, poolPos + size)); } finally { fs.closeSync(fd); }
      poolPos += size;
      bytes += size;
      allocatedBytes += roundUp4k(size);
    }
    if (made % 20_000 === 0) log(`  ${made} / ${p.files} files`);
  }
  return { files: made, directories: tree.directories, bytes, allocatedBytes };
}

function generateLarge(dir: string, p: DatasetParams): Omit<Marker, 'params' | 'createdAt' | 'generationSeconds'> {
  fs.mkdirSync(dir, { recursive: true });
  const block = 8 << 20;
  let bytes = 0;
  for (let i = 0; i < p.files; i++) {
    const stream = new KeyStream(`large:${p.seed}:${i}`, block);
    const fd = fs.openSync(path.join(dir, `big${i}.bin`), 'wx');
    try {
      for (let left = p.maxSize; left > 0; left -= block) writeAll(fd, stream.next(Math.min(block, left)));
    } finally { fs.closeSync(fd); }
    bytes += p.maxSize;
  }
  return { files: p.files, directories: 1, bytes, allocatedBytes: roundUp4k(p.maxSize) * p.files + 4096 };
}

function readMarker(file: string): Marker | null {
  try { return JSON.parse(fs.readFileSync(file, 'utf8')) as Marker; } catch { return null; }
}

/**
 * Returns the data set, generating it when no complete copy with the same parameters exists.
 * Paths moved aside are appended to `stale` for the caller to remove once timing is over.
 */
export function ensureDataset(workdir: string, p: DatasetParams, stale: string[]): Dataset {
  const name = datasetName(p);
  const dir = path.join(workdir, name);
  const markerPath = path.join(workdir, `${name}.json`);
  const marker = readMarker(markerPath);
  if (marker && sameParams(marker.params, p) && fs.existsSync(dir)) {
    log(`data set ${name}: reusing ${dir} (${marker.files} files, ${(marker.bytes / 1e6).toFixed(0)} MB)`);
    return { name, params: p, dir, files: marker.files, directories: marker.directories, bytes: marker.bytes, allocatedBytes: marker.allocatedBytes };
  }
  fs.mkdirSync(workdir, { recursive: true });
  if (fs.existsSync(dir)) {
    const aside = `${dir}.stale-${Date.now()}`;
    log(`data set ${name}: incomplete or outdated copy moved aside to ${aside}`);
    fs.renameSync(dir, aside);
    stale.push(aside);
  }
  try { fs.unlinkSync(markerPath); } catch { /* none */ }
  log(`data set ${name}: generating in ${dir} ...`);
  const t0 = performance.now();
  const made = p.kind === 'small' ? generateSmall(dir, p) : generateLarge(dir, p);
  // Flush now so write-back of the new data does not run during the timed runs.
  spawnSync('sync', { stdio: 'ignore' });
  const generationSeconds = (performance.now() - t0) / 1000;
  const m: Marker = { params: p, ...made, createdAt: new Date().toISOString(), generationSeconds };
  fs.writeFileSync(markerPath, JSON.stringify(m, null, 2) + '\n');
  log(`data set ${name}: ${made.files} files, ${made.directories} directories, ${(made.bytes / 1e6).toFixed(0)} MB in ${generationSeconds.toFixed(1)} s`);
  return { name, params: p, dir, ...made };
}

export interface Ext4Image {
  path: string;
  sizeBytes: number;
}

/**
 * An ext4 image holding the same tree (for Linux dump), built with `mke2fs -d` and reused while
 * its marker matches the data set. Sized generously: data rounded to 4 KiB blocks plus 30 %,
 * plus 256 MiB for the journal and metadata; enough inodes for every file and directory. The
 * block size is fixed at 4 KiB (mke2fs would pick 1 KiB for the --quick sets, under 512 MiB).
 */
export function ensureExt4Image(workdir: string, ds: Dataset): Ext4Image {
  const img = path.join(workdir, `${ds.name}.ext4`);
  const markerPath = `${img}.json`;
  const sizeMiB = Math.ceil((ds.allocatedBytes * 1.3) / (1 << 20)) + 256;
  const inodes = Math.ceil((ds.files + ds.directories) * 1.2) + 1024;
  const mkfsArgs = ['-q', '-F', '-t', 'ext4', '-b', '4096', '-m', '0', '-N', String(inodes)];
  const want = { dataset: ds.params, sizeMiB, inodes, mkfsArgs };
  const marker = (() => { try { return JSON.parse(fs.readFileSync(markerPath, 'utf8')) as typeof want; } catch { return null; } })();
  if (marker && JSON.stringify(marker) === JSON.stringify(want) && fs.existsSync(img)) {
    log(`ext4 image ${img}: reusing`);
    return { path: img, sizeBytes: sizeMiB << 20 };
  }
  try { fs.unlinkSync(markerPath); } catch { /* none */ }
  try { fs.unlinkSync(img); } catch { /* none */ }
  log(`ext4 image ${img}: building (${sizeMiB} MiB, ${inodes} inodes) ...`);
  const t0 = performance.now();
  const r = spawnSync('mke2fs', [...mkfsArgs, '-d', ds.dir, img, `${sizeMiB}M`], { stdio: ['ignore', 'inherit', 'pipe'] });
  if (r.status !== 0) {
    try { fs.unlinkSync(img); } catch { /* none */ }
    throw new Error(`mke2fs failed (status ${r.status}): ${r.stderr?.toString().trim() ?? r.error?.message}`);
  }
  spawnSync('sync', { stdio: 'ignore' });
  fs.writeFileSync(markerPath, JSON.stringify(want, null, 2) + '\n');
  log(`ext4 image ${img}: built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { path: img, sizeBytes: sizeMiB << 20 };
}

/** Reads every file of the tree once (untimed warm-up), into one reused buffer. Returns bytes read. */
export function warmTree(dir: string): number {
  const buf = Buffer.allocUnsafe(1 << 20);
  let total = 0;
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) { walk(p); continue; }
      if (!e.isFile()) continue;
      const fd = fs.openSync(p, 'r');
      try {
        let n: number;
        while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) total += n;
      } finally { fs.closeSync(fd); }
    }
  };
  walk(dir);
  return total;
}

/** Reads a whole file or block device once (warms the loop device's own page cache). */
export function warmDevice(dev: string): number {
  const buf = Buffer.allocUnsafe(8 << 20);
  const fd = fs.openSync(dev, 'r');
  let total = 0;
  try {
    let n: number;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) total += n;
  } finally { fs.closeSync(fd); }
  return total;
}
