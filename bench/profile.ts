/**
 * CPU profile of one `bin/snapdump backup` run on a bench data set: runs it under
 * `node --cpu-prof` (V8 writes one .cpuprofile per thread: the main thread and every worker)
 * and prints the functions with the most self time, per thread kind.
 *
 *   node dist/bench/run.js profile [--small | --large] [--quick] [--restore] [--top N] [--dir D] [--snapdump BIN]
 *
 * With --restore it profiles `snapdump restore` of the set's cached image (see restore-run.ts) into a
 * fresh, loop-mounted ext4 file system instead (needs root).
 *   node dist/bench/run.js profile --summarize DIR     # only summarise existing .cpuprofile files
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureDataset, largeParams, smallParams, warmDevice, warmTree, type Dataset } from './datasets.js';
import { ensureSnapdumpImage, scratchSize } from './restore-run.js';
import { destroyScratchFs, makeScratchFs, type ScratchFs } from './scratch-fs.js';
import { fmt, log, parseArgs, renderTable } from './util.js';
import { snapdumpBin } from './whole-run.js';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime { fn: string; where: string; ms: number; percent: number }

function shortUrl(url: string): string {
  if (!url) return '';
  // Paths inside the checkout (wherever it is) as dist/... or node_modules/...
  return url.replace(/^file:\/\//, '').replace(/^.*?\/(dist|node_modules)\//, '$1/');
}

/** Self time per function (summed over all its call sites), ms, descending. */
export function selfTimes(profile: CpuProfile): { total: number; rows: SelfTime[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const acc = new Map<string, { fn: string; where: string; us: number }>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    // timeDeltas[i+1] is the time until the next sample: attribute it to sample i.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const node = byId.get(profile.samples[i]!);
    if (!node || dt <= 0) continue;
    const cf = node.callFrame;
    const fn = cf.functionName || '(anonymous)';
    const where = cf.url ? `${shortUrl(cf.url)}:${cf.lineNumber + 1}` : '';
    const key = `${fn}\u0000${where}`;
    const e = acc.get(key) ?? { fn, where, us: 0 };
    e.us += dt;
    acc.set(key, e);
    total += dt;
  }
  const rows = [...acc.values()].sort((a, b) => b.us - a.us).map((e) => ({ fn: e.fn, where: e.where, ms: e.us / 1000, percent: (100 * e.us) / total }));
  return { total: total / 1000, rows };
}

function merge(parts: Array<{ total: number; rows: SelfTime[] }>): { total: number; rows: SelfTime[] } {
  const acc = new Map<string, SelfTime>();
  let total = 0;
  for (const p of parts) {
    total += p.total;
    for (const r of p.rows) {
      const k = `${r.fn}\u0000${r.where}`;
      const e = acc.get(k) ?? { ...r, ms: 0 };
      e.ms += r.ms;
      acc.set(k, e);
    }
  }
  const rows = [...acc.values()].sort((a, b) => b.ms - a.ms).map((r) => ({ ...r, percent: (100 * r.ms) / total }));
  return { total, rows };
}

export function summarize(dir: string, top: number): void {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort();
  if (files.length === 0) throw new Error(`no .cpuprofile files in ${dir}`);
  // Names are CPU.<date>.<time>.<pid>.<threadId>.<seq>.cpuprofile; thread 0 is the main thread.
  const threadOf = (f: string) => Number(f.split('.')[4]);
  const main = files.filter((f) => threadOf(f) === 0);
  const workers = files.filter((f) => threadOf(f) !== 0);
  const load = (f: string) => selfTimes(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as CpuProfile);
  const show = (title: string, s: { total: number; rows: SelfTime[] }) => {
    process.stdout.write(`\n${title}: ${fmt(s.total)} ms sampled\n`);
    process.stdout.write(renderTable(['self ms', '%', 'function', 'where'], s.rows.slice(0, top).map((r) => [fmt(r.ms), fmt(r.percent, 1), r.fn, r.where])) + '\n');
  };
  for (const f of main) show(`main thread (${f})`, load(f));
  if (workers.length) show(`${workers.length} worker thread(s), merged`, merge(workers.map(load)));
}

export async function profile(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv, ['dir', 'top', 'summarize', 'snapdump']);
  const top = Number(args.values.get('top') ?? 25);
  const existing = args.values.get('summarize');
  if (existing) { summarize(existing, top); return; }
  const quick = args.flags.has('quick');
  const workdir = path.resolve(args.values.get('dir') ?? process.env.SNAPDUMP_BENCH_DIR ?? '/var/tmp/snapdump-bench');
  const stale: string[] = [];
  const ds = ensureDataset(workdir, args.flags.has('large') ? largeParams(quick) : smallParams(quick), stale);
  for (const s of stale) fs.rmSync(s, { recursive: true, force: true });
  if (args.flags.has('restore')) { profileRestore(workdir, ds, snapdumpBin(args.values), top); return; }
  warmTree(ds.dir);
  const profDir = path.join(workdir, 'profiles', `${ds.name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  fs.mkdirSync(profDir, { recursive: true });
  const out = path.join(workdir, 'out', `${ds.name}.profile.out`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  log(`profiling bin/snapdump backup ${ds.dir} (profiles in ${profDir}) ...`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', profDir, snapdumpBin(args.values), 'backup', ds.dir, '-f', out], { stdio: ['ignore', 'inherit', 'inherit'] });
  const secs = (performance.now() - t0) / 1000;
  try { fs.unlinkSync(out); } catch { /* none */ }
  if (r.status !== 0) throw new Error(`snapdump exited with status ${r.status}`);
  process.stdout.write(`\nprofiled run: ${secs.toFixed(2)} s wall (profiling adds overhead)\n`);
  summarize(profDir, top);
}

/** One `snapdump restore` of the set's cached image into a fresh ext4 file system, under --cpu-prof. */
function profileRestore(workdir: string, ds: Dataset, bin: string, top: number): void {
  if (process.getuid?.() !== 0) throw new Error('profile --restore needs root (a fresh loop-mounted ext4 file system)');
  const img = ensureSnapdumpImage(workdir, ds, bin);
  const profDir = path.join(workdir, 'profiles', `${ds.name}-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  fs.mkdirSync(profDir, { recursive: true });
  const { sizeBytes, inodes } = scratchSize(ds);
  let s: ScratchFs | null = null;
  let secs: number;
  try {
    s = makeScratchFs(path.join(workdir, 'out'), sizeBytes, inodes);
    const dest = path.join(s.mountPoint, 'dest');
    fs.mkdirSync(dest);
    spawnSync('sync', { stdio: 'ignore' });
    warmDevice(img.path);
    log(`profiling bin/snapdump restore -f ${img.path} -C ${dest} (profiles in ${profDir}) ...`);
    const t0 = performance.now();
    const r = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', profDir, bin, 'restore', '-f', img.path, '-C', dest], { stdio: ['ignore', 'inherit', 'inherit'] });
    secs = (performance.now() - t0) / 1000;
    if (r.status !== 0) throw new Error(`snapdump restore exited with status ${r.status}`);
  } finally {
    if (s) destroyScratchFs(s);
  }
  process.stdout.write(`\nprofiled run: ${secs.toFixed(2)} s wall (profiling adds overhead)\n`);
  summarize(profDir, top);
}
