/**
 * Whole-run benchmark: `bin/snapdump backup` against GNU tar and Linux dump on the same tree,
 * each as a separate process, warm page cache, output to a file on the same disk, median of N.
 *
 * Timing: wall time of the whole process (spawn → exit) measured here with performance.now().
 * Peak RSS: GNU time's `%M` (ru_maxrss of the child from wait4, in KiB; for snapdump it covers
 * the main thread and all worker threads, which share one process). Runs of the tools are
 * interleaved (snapdump, tar, ..., snapdump, tar, ...) so slow drift of the machine hits all alike.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  ensureDataset, ensureExt4Image, largeParams, smallParams, warmDevice, warmTree, type Dataset,
} from './datasets.js';
import { REPO_ROOT, fmt, log, median, parseArgs, renderTable } from './util.js';

export interface ToolResult {
  dataset: string;
  tool: string;
  command: string;
  /** Wall seconds of each timed run. */
  runs: number[];
  medianSeconds: number;
  minSeconds: number;
  /** Median CPU seconds (user, system) of the process over the runs. */
  userSeconds: number;
  sysSeconds: number;
  /** Per run: CPU seconds used by everything else on the machine during the run (see README). */
  otherCpuSeconds: number[];
  filesPerSecond: number;
  /** Data bytes (sum of file sizes) per wall second, in MB (10^6 bytes). */
  mbPerSecond: number;
  /** Highest peak RSS of the timed runs, MB (10^6 bytes). */
  peakRssMB: number;
  peakRssRuns: number[];
  outputBytes: number;
  /** Speed relative to GNU tar / Linux dump (their median time ÷ this tool's): > 1 is faster. */
  speedVsTar: number | null;
  speedVsDump: number | null;
  rssVsTar: number | null;
  error?: string;
}

export interface WholeRunReport {
  format: 'snapdump-bench-whole/1';
  startedAt: string;
  finishedAt: string;
  machine: { cpus: number; cpuModel: string; memoryGB: number; kernel: string; node: string; tar: string; dump: string | null };
  options: { workdir: string; runs: number; quick: boolean; sets: string[]; dump: boolean; withSync: boolean; snapdump: string; build: string; idleWait: number };
  datasets: Array<Pick<Dataset, 'name' | 'dir' | 'files' | 'directories' | 'bytes'> & { params: Dataset['params'] }>;
  results: ToolResult[];
  goals: Array<{ goal: string; measured: string; met: boolean | null }>;
  notes: string[];
}

interface Tool {
  name: string;
  /** argv; the output path is substituted for OUT. */
  argv: string[];
  display: string;
}

/** The snapdump under test: --snapdump PATH, $SNAPDUMP_BENCH_BIN, or this checkout's bin/snapdump. */
export function snapdumpBin(values: Map<string, string>): string {
  return path.resolve(values.get('snapdump') ?? process.env.SNAPDUMP_BENCH_BIN ?? path.join(REPO_ROOT, 'bin', 'snapdump'));
}

/** Which code is measured: the git commit of the checkout holding `bin` (plus "-dirty"), if any. */
export function describeBuild(bin: string): string {
  const root = path.dirname(path.dirname(bin));
  const rev = spawnSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  if (rev.status !== 0) return `${root} (not a git checkout)`;
  const dirty = spawnSync('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no', '--', 'src', 'native'], { encoding: 'utf8' }).stdout?.trim();
  return `${root} @ ${rev.stdout.trim()}${dirty ? ' (src/native modified)' : ''}`;
}
export const TIME_BIN = '/usr/bin/time';

export function commandExists(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').find((l) => l.trim())?.trim() ?? 'unknown';
}

interface RunOutcome {
  seconds: number;
  rssKiB: number;
  /** CPU seconds of the process (all its threads and waited-for children), user + system. */
  userSeconds: number;
  sysSeconds: number;
  /** CPU seconds the rest of the machine used meanwhile (other processes, kernel threads). */
  otherCpuSeconds: number;
  outputBytes: number;
  error?: string;
}

/** Busy and total CPU time of the machine so far, seconds (from /proc/stat; null if unreadable). */
export function machineCpu(): { busy: number; total: number } | null {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (f[3] ?? 0) + (f[4] ?? 0); // idle + iowait
    return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK };
  } catch { return null; }
}
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Waits until the machine is quiet (other work uses < 15 % of its CPUs over one second), at most
 * `maxSeconds`. Other sessions share this machine; a timed run under their load measures them.
 * Returns the seconds waited, or -1 when it gave up.
 */
export async function waitForIdle(maxSeconds: number): Promise<number> {
  if (maxSeconds <= 0) return 0;
  const t0 = performance.now();
  let warned = false;
  for (;;) {
    const a = machineCpu();
    await sleep(1000);
    const b = machineCpu();
    if (!a || !b) return 0;
    const load = (b.busy - a.busy) / Math.max(1e-9, b.total - a.total);
    const waited = (performance.now() - t0) / 1000;
    if (load < 0.15) return waited;
    if (waited >= maxSeconds) return -1;
    if (!warned && waited >= 5) { log(`  waiting for the machine to be idle (${(load * 100).toFixed(0)} % busy) ...`); warned = true; }
  }
}

/** Runs one command under GNU time, returns wall seconds, peak RSS and output size; deletes the output. */
function timedRun(argv: string[], out: string, timeFile: string): RunOutcome {
  try { fs.unlinkSync(out); } catch { /* none */ }
  const useTime = fs.existsSync(TIME_BIN);
  const full = useTime ? [TIME_BIN, '-f', '%M %U %S', '-o', timeFile, ...argv] : argv;
  const cpu0 = machineCpu();
  const t0 = performance.now();
  const r = spawnSync(full[0]!, full.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 << 20 });
  const seconds = (performance.now() - t0) / 1000;
  const cpu1 = machineCpu();
  let [rssKiB, userSeconds, sysSeconds] = [NaN, NaN, NaN];
  if (useTime) {
    try {
      [rssKiB, userSeconds, sysSeconds] = fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number) as [number, number, number];
    } catch { /* none */ }
  }
  const otherCpuSeconds = cpu0 && cpu1 ? Math.max(0, cpu1.busy - cpu0.busy - (userSeconds || 0) - (sysSeconds || 0)) : NaN;
  let outputBytes = 0;
  try { outputBytes = fs.statSync(out).size; } catch { /* none */ }
  try { fs.unlinkSync(out); } catch { /* none */ }
  const base = { seconds, rssKiB, userSeconds, sysSeconds, otherCpuSeconds, outputBytes };
  if (r.error || r.status !== 0) {
    const why = r.error?.message ?? `exit status ${r.status}${r.signal ? ` (signal ${r.signal})` : ''}`;
    return { ...base, error: `${why}: ${(r.stderr?.toString() ?? '').trim().split('\n').slice(-3).join(' | ')}` };
  }
  return base;
}

/** Attached loop devices, detached on exit or signal even if a run fails. */
const attachedLoops = new Set<string>();

export function detachLoop(dev: string): void {
  const r = spawnSync('losetup', ['-d', dev], { encoding: 'utf8' });
  if (r.status !== 0) log(`warning: losetup -d ${dev} failed: ${(r.stderr ?? '').trim()}`);
  attachedLoops.delete(dev);
}

function detachAll(): void {
  for (const dev of [...attachedLoops]) detachLoop(dev);
}

let signalHandlersInstalled = false;
function installSignalHandlers(): void {
  if (signalHandlersInstalled) return;
  signalHandlersInstalled = true;
  process.on('exit', detachAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => { detachAll(); process.exit(130); });
  }
}

/** Attaches the image read-only; first detaches loops a crashed earlier run left on this image. */
export function attachLoop(img: string): string {
  installSignalHandlers();
  const old = spawnSync('losetup', ['-j', img], { encoding: 'utf8' }).stdout ?? '';
  for (const line of old.split('\n')) {
    const dev = line.split(':')[0]?.trim();
    if (dev && dev.startsWith('/dev/loop')) { log(`detaching leftover ${dev} on ${img}`); detachLoop(dev); }
  }
  const r = spawnSync('losetup', ['-r', '-f', '--show', img], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`losetup failed: ${(r.stderr ?? '').trim()}`);
  const dev = r.stdout.trim();
  attachedLoops.add(dev);
  return dev;
}

async function runSet(ds: Dataset, tools: Tool[], outDir: string, runs: number, idleWait: number, notes: string[]): Promise<ToolResult[]> {
  const timeFile = path.join(outDir, '.time');
  const acc = new Map<string, RunOutcome[]>(tools.map((t) => [t.name, []]));
  const busyRuns: string[] = [];
  for (let i = 0; i < runs; i++) {
    for (const t of tools) {
      await new Promise<void>((r) => setImmediate(r)); // let signal handlers run between runs (even with --idle-wait 0)
      const out = path.join(outDir, `${ds.name}.${t.name.replace(/[^a-z0-9]+/gi, '-')}.out`);
      if (await waitForIdle(idleWait) < 0) notes.push(`${ds.name} ${t.name} run ${i + 1}: machine still busy after ${idleWait} s; ran anyway`);
      const o = timedRun(t.argv.map((a) => (a === 'OUT' ? out : a)), out, timeFile);
      acc.get(t.name)!.push(o);
      log(`  ${ds.name} run ${i + 1}/${runs} ${t.name.padEnd(15)} ${o.seconds.toFixed(2).padStart(6)} s  cpu ${o.userSeconds.toFixed(2)} u ${o.sysSeconds.toFixed(2)} s  ${(o.rssKiB / 1024).toFixed(0).padStart(4)} MiB RSS  others ${o.otherCpuSeconds.toFixed(2)} cpu-s${o.error ? `  FAILED: ${o.error}` : ''}`);
      if (o.otherCpuSeconds > 0.25 * o.seconds) busyRuns.push(`${t.name} #${i + 1} (${o.otherCpuSeconds.toFixed(1)} CPU-s in ${o.seconds.toFixed(1)} s)`);
    }
  }
  try { fs.unlinkSync(timeFile); } catch { /* none */ }
  if (busyRuns.length) {
    notes.push(`${ds.name}: runs during which the rest of the machine used over a quarter of a CPU (other sessions, or kernel threads working for the tool: the loop device for dump, write-back): ${busyRuns.join(', ')}`);
  }
  const results: ToolResult[] = tools.map((t) => {
    const os_ = acc.get(t.name)!;
    const ok = os_.filter((o) => !o.error);
    const secs = ok.map((o) => o.seconds);
    const med = median(secs);
    const rss = ok.map((o) => (o.rssKiB * 1024) / 1e6);
    return {
      dataset: ds.name, tool: t.name, command: t.display, runs: secs, medianSeconds: med, minSeconds: Math.min(...secs),
      userSeconds: median(ok.map((o) => o.userSeconds)), sysSeconds: median(ok.map((o) => o.sysSeconds)),
      otherCpuSeconds: os_.map((o) => o.otherCpuSeconds),
      filesPerSecond: ds.files / med, mbPerSecond: ds.bytes / 1e6 / med,
      peakRssMB: rss.length ? Math.max(...rss) : NaN, peakRssRuns: rss,
      outputBytes: ok[0]?.outputBytes ?? 0, speedVsTar: null, speedVsDump: null, rssVsTar: null,
      ...(ok.length < os_.length ? { error: os_.find((o) => o.error)!.error } : {}),
    };
  });
  const tar = results.find((r) => r.tool === 'tar');
  const dump = results.find((r) => r.tool === 'dump');
  for (const r of results) {
    if (tar && Number.isFinite(tar.medianSeconds)) { r.speedVsTar = tar.medianSeconds / r.medianSeconds; r.rssVsTar = r.peakRssMB / tar.peakRssMB; }
    if (dump && Number.isFinite(dump.medianSeconds)) r.speedVsDump = dump.medianSeconds / r.medianSeconds;
  }
  return results;
}

async function benchSet(ds: Dataset, bin: string, workdir: string, outDir: string, runs: number, idleWait: number, withDump: boolean, withSync: boolean, notes: string[]): Promise<ToolResult[]> {
  const tools: Tool[] = [
    { name: 'snapdump', argv: [bin, 'backup', ds.dir, '-f', 'OUT'], display: `${bin} backup ${ds.dir} -f OUT` },
    { name: 'tar', argv: ['tar', '-cf', 'OUT', '-C', ds.dir, '.'], display: `tar -cf OUT -C ${ds.dir} .` },
  ];
  if (withSync) {
    // Durable output: snapdump --sync fsyncs the image before renaming it into place; tar is
    // followed by sync(1) on its archive (an fsync of that file).
    tools.push(
      { name: 'snapdump --sync', argv: [bin, 'backup', '--sync', ds.dir, '-f', 'OUT'], display: `${bin} backup --sync ${ds.dir} -f OUT` },
      { name: 'tar+fsync', argv: ['sh', '-c', 'tar -cf "$1" -C "$2" . && sync "$1"', 'sh', 'OUT', ds.dir], display: `tar -cf OUT -C ${ds.dir} . && sync OUT` },
    );
  }
  let loop: string | null = null;
  try {
    if (withDump) {
      const img = ensureExt4Image(workdir, ds);
      loop = attachLoop(img.path);
      tools.push({ name: 'dump', argv: ['dump', '-0', '-q', '-f', 'OUT', loop], display: `dump -0 -q -f OUT ${loop} (ext4 image of the tree)` });
    }
    log(`${ds.name}: warm-up read of the tree (untimed) ...`);
    let t0 = performance.now();
    const read = warmTree(ds.dir);
    log(`${ds.name}: warm-up read ${(read / 1e6).toFixed(0)} MB in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    if (loop) {
      t0 = performance.now();
      const n = warmDevice(loop);
      log(`${ds.name}: warm-up read of ${loop} ${(n / 1e6).toFixed(0)} MB in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    }
    return await runSet(ds, tools, outDir, runs, idleWait, notes);
  } catch (e) {
    notes.push(`${ds.name}: ${(e as Error).message}`);
    throw e;
  } finally {
    if (loop) detachLoop(loop);
  }
}

function printResults(results: ToolResult[]): void {
  const rows = results.map((r) => [
    r.dataset, r.tool, fmt(r.medianSeconds, 2), r.runs.map((s) => s.toFixed(2)).join(' '),
    `${r.userSeconds.toFixed(2)}+${r.sysSeconds.toFixed(2)}`,
    fmt(r.filesPerSecond), fmt(r.mbPerSecond), fmt(r.peakRssMB),
    r.speedVsTar === null ? '–' : `${r.speedVsTar.toFixed(2)}x`,
    r.speedVsDump === null ? '–' : `${r.speedVsDump.toFixed(2)}x`,
    r.error ? `FAILED: ${r.error.slice(0, 60)}` : '',
  ]);
  process.stdout.write('\n' + renderTable(
    ['set', 'tool', 'median s', 'runs s', 'cpu u+s', 'files/s', 'MB/s', 'peak RSS MB', 'speed vs tar', 'speed vs dump', ''], rows,
  ) + '\n\n');
}

function evaluateGoals(results: ToolResult[], sets: Dataset[]): WholeRunReport['goals'] {
  const goals: WholeRunReport['goals'] = [];
  const get = (set: string, tool: string) => results.find((r) => r.dataset === set && r.tool === tool);
  const small = sets.find((s) => s.params.kind === 'small');
  const large = sets.find((s) => s.params.kind === 'large');
  if (small) {
    const s = get(small.name, 'snapdump'); const t = get(small.name, 'tar');
    if (s && t) {
      goals.push({ goal: `small (${small.name}): snapdump files/s ≥ GNU tar files/s`, measured: `${fmt(s.filesPerSecond)} vs ${fmt(t.filesPerSecond)} (${(s.speedVsTar ?? NaN).toFixed(2)}x)`, met: s.filesPerSecond >= t.filesPerSecond });
      goals.push({ goal: `small (${small.name}): snapdump peak RSS < 300 MB`, measured: `${fmt(s.peakRssMB)} MB`, met: s.peakRssMB < 300 });
    }
  }
  if (large) {
    const s = get(large.name, 'snapdump'); const t = get(large.name, 'tar');
    if (s && t) goals.push({ goal: `large (${large.name}): snapdump MB/s ≥ 1.3 × GNU tar MB/s`, measured: `${fmt(s.mbPerSecond)} vs ${fmt(t.mbPerSecond)} (${(s.speedVsTar ?? NaN).toFixed(2)}x)`, met: s.mbPerSecond >= 1.3 * t.mbPerSecond });
  }
  if (small && large) {
    const a = get(small.name, 'snapdump'); const b = get(large.name, 'snapdump');
    if (a && b) {
      // "Independent of file size": 4 × 512 MiB files must not need more memory than the many-file tree
      // (allow 25 % noise).
      goals.push({ goal: 'snapdump peak RSS independent of file size (large ≤ 1.25 × small)', measured: `${fmt(b.peakRssMB)} MB large vs ${fmt(a.peakRssMB)} MB small`, met: b.peakRssMB <= 1.25 * a.peakRssMB });
    }
  }
  return goals;
}

export async function wholeRun(argv: readonly string[]): Promise<WholeRunReport> {
  const args = parseArgs(argv, ['dir', 'runs', 'json', 'snapdump', 'idle-wait']);
  const idleWait = Number(args.values.get('idle-wait') ?? 120);
  const bin = snapdumpBin(args.values);
  const quick = args.flags.has('quick');
  const wantSmall = args.flags.has('small') || !args.flags.has('large');
  const wantLarge = args.flags.has('large') || !args.flags.has('small');
  const workdir = path.resolve(args.values.get('dir') ?? process.env.SNAPDUMP_BENCH_DIR ?? '/var/tmp/snapdump-bench');
  const runs = Number(args.values.get('runs') ?? 3);
  const jsonPath = path.resolve(args.values.get('json') ?? path.join(REPO_ROOT, 'bench', 'results', 'latest.json'));
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
  if (!fs.existsSync(path.join(path.dirname(path.dirname(bin)), 'dist', 'src', 'cli', 'main.js'))) throw new Error(`snapdump at ${bin} is not built: run \`npm run build\` first`);
  const build = describeBuild(bin);
  log(`snapdump under test: ${build}`);

  const notes: string[] = [];
  const isRoot = process.getuid?.() === 0;
  const withDump = !args.flags.has('no-dump') && isRoot && commandExists('dump') && commandExists('mke2fs') && commandExists('losetup');
  if (!withDump) notes.push(`Linux dump not compared: ${args.flags.has('no-dump') ? '--no-dump given' : !isRoot ? 'not running as root (losetup needs root)' : 'dump, mke2fs or losetup missing'}`);
  if (!fs.existsSync(TIME_BIN)) notes.push(`${TIME_BIN} missing: peak RSS not measured`);
  const withSync = args.flags.has('with-sync');

  const startedAt = new Date().toISOString();
  const stale: string[] = [];
  const sets: Dataset[] = [];
  if (wantSmall) sets.push(ensureDataset(workdir, smallParams(quick), stale));
  if (wantLarge) sets.push(ensureDataset(workdir, largeParams(quick), stale));
  const outDir = path.join(workdir, 'out');
  fs.mkdirSync(outDir, { recursive: true });

  const results: ToolResult[] = [];
  try {
    for (const ds of sets) {
      log(`${ds.name}: ${ds.files} files, ${ds.directories} directories, ${(ds.bytes / 1e6).toFixed(0)} MB; ${runs} timed runs per tool`);
      try {
        results.push(...await benchSet(ds, bin, workdir, outDir, runs, idleWait, withDump, withSync, notes));
      } catch (e) {
        log(`${ds.name}: FAILED: ${(e as Error).message}`); // recorded in notes; go on with the next set
      }
    }
  } finally {
    detachAll();
    for (const s of stale) {
      log(`removing stale copy ${s}`);
      fs.rmSync(s, { recursive: true, force: true });
    }
  }

  const goals = evaluateGoals(results, sets);
  const report: WholeRunReport = {
    format: 'snapdump-bench-whole/1',
    startedAt, finishedAt: new Date().toISOString(),
    machine: {
      cpus: os.availableParallelism(), cpuModel: os.cpus()[0]?.model ?? 'unknown', memoryGB: Math.round(os.totalmem() / 1e9),
      kernel: os.release(), node: process.version, tar: firstLine('tar', ['--version']), dump: withDump ? firstLine('dump', []) : null,
    },
    options: { workdir, runs, quick, sets: sets.map((s) => s.name), dump: withDump, withSync, snapdump: bin, build, idleWait },
    datasets: sets.map((s) => ({ name: s.name, dir: s.dir, files: s.files, directories: s.directories, bytes: s.bytes, params: s.params })),
    results, goals, notes,
  };
  printResults(results);
  for (const g of goals) process.stdout.write(`${g.met === null ? '  ?  ' : g.met ? ' PASS' : ' FAIL'}  ${g.goal}: ${g.measured}\n`);
  for (const n of notes) process.stdout.write(`note: ${n}\n`);
  fs.mkdirSync(path.dirname(jsonPath), { recursive: true });
  fs.writeFileSync(jsonPath, JSON.stringify(report, null, 2) + '\n');
  const shown = path.relative(process.cwd(), jsonPath);
  process.stdout.write(`\nresults written to ${shown && !shown.startsWith('..') ? shown : jsonPath}\n`);
  return report;
}
