/**
 * Whole-run restore benchmark: `bin/snapdump restore` against GNU tar extraction, bsdtar extraction
 * and Linux `restore -r`, each as a separate process, on the bench data sets.
 *
 * Inputs (made once, cached next to the data set, reused while their key matches):
 *   - `<set>.snapdump`: `snapdump backup SET -f …`, keyed by snapdump's package version + set parameters;
 *   - `<set>.tar`: `tar -cf … -C SET .` (GNU tar), keyed by tar's version + set parameters;
 *   - `<set>.dump`: `dump -0` of the set's ext4 loop image (attached read-only), keyed by the ext4
 *     image's own key + dump's version.
 *
 * Every timed run restores into a fresh empty directory on a freshly made ext4 file system (see
 * scratch-fs.ts: never delete → restore on one file system, ANCHORS.md). Formatting, mounting,
 * unmounting and the checks are outside the timing; the input file is read once right before each
 * run so it comes from the page cache. Runs of the tools are interleaved; median of N.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  ensureDataset, ensureExt4Image, largeParams, smallParams, warmDevice, type Dataset,
} from './datasets.js';
import { cleanLeftovers, destroyScratchFs, makeScratchFs, type ScratchFs } from './scratch-fs.js';
import { REPO_ROOT, fmt, log, median, parseArgs, renderTable } from './util.js';
import {
  TIME_BIN, attachLoop, commandExists, describeBuild, detachLoop, firstLine, machineCpu, snapdumpBin, waitForIdle,
} from './whole-run.js';

export interface RestoreToolResult {
  dataset: string;
  tool: string;
  /** The command line timed: DEST is the fresh directory, TMP a temporary directory. */
  command: string;
  input: string;
  inputBytes: number;
  runs: number[];
  medianSeconds: number;
  minSeconds: number;
  userSeconds: number;
  sysSeconds: number;
  otherCpuSeconds: number[];
  filesPerSecond: number;
  mbPerSecond: number;
  peakRssMB: number;
  peakRssRuns: number[];
  /** What the first successful run left in DEST (regular files and their bytes), and whether it matches the set. */
  check: { files: number; bytes: number; ok: boolean; verify?: string } | null;
  /** The other tool's median time ÷ this tool's: above 1 means this tool is faster. */
  speedVsTar: number | null;
  speedVsBsdtar: number | null;
  speedVsRestore: number | null;
  error?: string;
}

export interface RestoreRunReport {
  format: 'snapdump-bench-restore/1';
  startedAt: string;
  finishedAt: string;
  machine: { cpus: number; cpuModel: string; memoryGB: number; kernel: string; node: string; tar: string; bsdtar: string | null; restore: string | null };
  options: { workdir: string; runs: number; warmupRound: boolean; quick: boolean; sets: string[]; dump: boolean; bsdtar: boolean; snapdump: string; snapdumpVersion: string; build: string; idleWait: number };
  datasets: Array<Pick<Dataset, 'name' | 'dir' | 'files' | 'directories' | 'bytes'> & { params: Dataset['params']; scratchFs: { sizeBytes: number; inodes: number } }>;
  results: RestoreToolResult[];
  goals: Array<{ goal: string; measured: string; met: boolean | null }>;
  notes: string[];
}

interface Tool {
  name: string;
  input: string;
  /** argv; DEST and TMP are substituted. */
  argv: string[];
  /** Run with DEST as the working directory (restore -r restores into the current directory). */
  cwdDest: boolean;
  display: string;
  /** Top-level names in DEST that the tool adds itself and that are not part of the set. */
  extraTopNames: string[];
}

interface RunOutcome {
  seconds: number;
  rssKiB: number;
  userSeconds: number;
  sysSeconds: number;
  otherCpuSeconds: number;
  /** The other threads that used the most CPU during the run ("name seconds, ..."). */
  busiestOthers: string;
  error?: string;
}

export function snapdumpVersion(bin: string): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(path.dirname(bin)), 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch { return 'unknown'; }
}

/**
 * A file made once and reused while its marker (`FILE.json`) holds the same key. Built into a
 * temporary name and renamed when complete, so an interrupted build is never reused.
 */
function ensureCached(file: string, key: unknown, what: string, build: (tmp: string) => void): number {
  const markerPath = `${file}.json`;
  const marker = (() => { try { return JSON.parse(fs.readFileSync(markerPath, 'utf8')) as { key: unknown }; } catch { return null; } })();
  if (marker && JSON.stringify(marker.key) === JSON.stringify(key) && fs.existsSync(file)) {
    const size = fs.statSync(file).size;
    log(`${what} ${file}: reusing (${(size / 1e6).toFixed(0)} MB)`);
    return size;
  }
  try { fs.unlinkSync(markerPath); } catch { /* none */ }
  try { fs.unlinkSync(file); } catch { /* none */ }
  const tmp = `${file}.tmp-${process.pid}`;
  log(`${what} ${file}: making ...`);
  const t0 = performance.now();
  try {
    build(tmp);
    fs.renameSync(tmp, file);
  } finally {
    try { fs.unlinkSync(tmp); } catch { /* renamed */ }
  }
  spawnSync('sync', { stdio: 'ignore' });
  const seconds = (performance.now() - t0) / 1000;
  const size = fs.statSync(file).size;
  fs.writeFileSync(markerPath, JSON.stringify({ key, bytes: size, createdAt: new Date().toISOString(), seconds }, null, 2) + '\n');
  log(`${what} ${file}: ${(size / 1e6).toFixed(0)} MB in ${seconds.toFixed(1)} s`);
  return size;
}

function mustRun(argv: string[], what: string): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 << 20 });
  if (r.error || r.status !== 0) {
    throw new Error(`${what} failed (${r.error?.message ?? `status ${r.status}`}): ${(r.stderr?.toString() ?? '').trim().split('\n').slice(-3).join(' | ')}`);
  }
}

interface Inputs { snapdump: { path: string; bytes: number }; tar: { path: string; bytes: number }; dump: { path: string; bytes: number } | null }

/** `<set>.snapdump`, the set backed up by `bin` (cached, keyed by its package version + the set's parameters). */
export function ensureSnapdumpImage(workdir: string, ds: Dataset, bin: string): { path: string; bytes: number } {
  const img = path.join(workdir, `${ds.name}.snapdump`);
  const bytes = ensureCached(img, { dataset: ds.params, snapdump: snapdumpVersion(bin), argv: ['backup', 'SET', '-f', 'OUT'] }, 'snapdump image', (tmp) => {
    mustRun([bin, 'backup', ds.dir, '-f', tmp], 'snapdump backup');
  });
  return { path: img, bytes };
}

function ensureInputs(workdir: string, ds: Dataset, bin: string, withDump: boolean, dumpVersion: string | null): Inputs {
  const snapdump = ensureSnapdumpImage(workdir, ds, bin);
  const tarFile = path.join(workdir, `${ds.name}.tar`);
  const tarBytes = ensureCached(tarFile, { dataset: ds.params, tar: firstLine('tar', ['--version']), argv: ['tar', '-cf', 'OUT', '-C', 'SET', '.'] }, 'tar archive', (tmp) => {
    mustRun(['tar', '-cf', tmp, '-C', ds.dir, '.'], 'tar -c');
  });
  let dump: Inputs['dump'] = null;
  if (withDump) {
    const ext4 = ensureExt4Image(workdir, ds);
    const ext4Key = JSON.parse(fs.readFileSync(`${ext4.path}.json`, 'utf8')) as unknown;
    const dumpFile = path.join(workdir, `${ds.name}.dump`);
    const bytes = ensureCached(dumpFile, { ext4: ext4Key, dump: dumpVersion, argv: ['dump', '-0', '-q', '-f', 'OUT', 'LOOP'] }, 'dump image', (tmp) => {
      const loop = attachLoop(ext4.path);
      try { mustRun(['dump', '-0', '-q', '-f', tmp, loop], 'dump -0'); } finally { detachLoop(loop); }
    });
    dump = { path: dumpFile, bytes };
  }
  return { snapdump, tar: { path: tarFile, bytes: tarBytes }, dump };
}

/**
 * CPU time (user + system, clock ticks) of every thread on the machine by "pid/tid" → [name, ticks],
 * from /proc/PID/task/TID/stat. Diffing two snapshots around a run names what else was busy
 * meanwhile (the timed process has exited by then, so it is not in the second one).
 */
function taskCpu(): Map<string, [string, number]> {
  const out = new Map<string, [string, number]>();
  let pids: string[];
  try { pids = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)); } catch { return out; }
  for (const pid of pids) {
    let tids: string[];
    try { tids = fs.readdirSync(`/proc/${pid}/task`); } catch { continue; }
    for (const tid of tids) {
      try {
        const st = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const close = st.lastIndexOf(')');
        const f = st.slice(close + 2).split(' ');
        out.set(`${pid}/${tid}`, [st.slice(st.indexOf('(') + 1, close), Number(f[11]) + Number(f[12])]);
      } catch { /* gone */ }
    }
  }
  return out;
}

/**
 * The busiest other threads between two snapshots, grouped by name (kworker/… by their work), as
 * "name seconds, ..."; what `otherCpuSeconds` holds beyond them was used by processes that exited
 * during the run (other sessions' short-lived commands) or stolen by the hypervisor.
 */
function topOthers(a: Map<string, [string, number]>, b: Map<string, [string, number]>, otherCpuSeconds: number, n = 3): string {
  const acc = new Map<string, number>();
  let total = 0;
  for (const [k, [name, t]] of b) {
    const dt = t - (a.get(k)?.[1] ?? 0);
    if (dt <= 0) continue;
    const key = name.replace(/^kworker\/[^-]*-?/, 'kworker:') || name;
    acc.set(key, (acc.get(key) ?? 0) + dt);
    total += dt;
  }
  const parts = [...acc].sort((x, y) => y[1] - x[1]).slice(0, n).filter(([, t]) => t >= CLK_TCK / 20)
    .map(([k, t]) => `${k} ${(t / CLK_TCK).toFixed(1)}`);
  const rest = otherCpuSeconds - total / CLK_TCK;
  if (rest >= 0.2) parts.push(`exited processes or steal ${rest.toFixed(1)}`);
  return parts.join(', ');
}
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** Runs one command under GNU time (optionally in `cwd`); wall seconds, CPU, peak RSS. */
function timedRun(argv: string[], cwd: string | undefined, timeFile: string): RunOutcome {
  const useTime = fs.existsSync(TIME_BIN);
  const full = useTime ? [TIME_BIN, '-f', '%M %U %S', '-o', timeFile, ...argv] : argv;
  const tasks0 = taskCpu();
  const cpu0 = machineCpu();
  const t0 = performance.now();
  const r = spawnSync(full[0]!, full.slice(1), { cwd, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 << 20, timeout: 30 * 60_000 });
  const seconds = (performance.now() - t0) / 1000;
  const cpu1 = machineCpu();
  const tasks1 = taskCpu();
  let [rssKiB, userSeconds, sysSeconds] = [NaN, NaN, NaN];
  if (useTime) {
    try {
      [rssKiB, userSeconds, sysSeconds] = fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number) as [number, number, number];
    } catch { /* none */ }
    try { fs.unlinkSync(timeFile); } catch { /* none */ }
  }
  const otherCpuSeconds = cpu0 && cpu1 ? Math.max(0, cpu1.busy - cpu0.busy - (userSeconds || 0) - (sysSeconds || 0)) : NaN;
  const busiestOthers = topOthers(tasks0, tasks1, otherCpuSeconds);
  const base = { seconds, rssKiB, userSeconds, sysSeconds, otherCpuSeconds, busiestOthers };
  if (r.error || r.status !== 0) {
    const why = r.error?.message ?? `exit status ${r.status}${r.signal ? ` (signal ${r.signal})` : ''}`;
    return { ...base, error: `${why}: ${(r.stderr?.toString() ?? '').trim().split('\n').slice(-3).join(' | ')}` };
  }
  return base;
}

/** Regular files and their bytes under `dir` (lstat, no reads); `skipTop` names at the top are ignored. */
function countTree(dir: string, skipTop: readonly string[]): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const walk = (d: string, top: boolean): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (top && skipTop.includes(e.name)) continue;
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p, false);
      else if (e.isFile()) { files++; bytes += fs.lstatSync(p).size; }
    }
  };
  walk(dir, true);
  return { files, bytes };
}

/**
 * Restore state a snapdump restore may leave in DEST for later incremental levels (as restore -r
 * leaves restoresymtable); not part of the set.
 */
const SNAPDUMP_STATE = '.snapdump-restore.json';

/**
 * `snapdump verify -f IMG -C DEST --json` (untimed): null when the tree matches the image, else a
 * short reason. DEST itself existed before the restore (the benchmark made it, empty, as for tar),
 * and an existing directory is kept as it is, so differences of "." in times, mode or owner are
 * expected and ignored, as is the restore state file; anything else counts.
 */
function verifyRestore(bin: string, img: string, dest: string): string | null {
  const r = spawnSync(bin, ['verify', '-f', img, '-C', dest, '--json'], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const lines = (r.stdout ?? '').trim().split('\n').filter(Boolean).map((l) => { try { return JSON.parse(l) as Record<string, unknown>; } catch { return { type: 'unparsed', line: l }; } });
  const summary = lines.find((l) => l.type === 'summary');
  const diffs = lines.filter((l) => l.type === 'difference' || l.type === 'unparsed');
  const real = diffs.filter((d) => !(d.path === '.' && ['times', 'mode', 'owner'].includes(String(d.kind))) && d.path !== SNAPDUMP_STATE && d.path !== `./${SNAPDUMP_STATE}`);
  if (summary && real.length === 0 && Number(summary.damage ?? 0) === 0 && (r.status === 0 || diffs.length > 0)) return null;
  const show = real.slice(0, 3).map((d) => (d.type === 'unparsed' ? String(d.line) : `${String(d.path)}: ${String(d.kind)}: ${String(d.detail)}`));
  return `snapdump verify exit ${r.status ?? r.signal}: ${real.length} difference(s)${show.length ? `, e.g. ${show.join(' | ')}` : ''}${summary ? '' : `; ${(r.stderr ?? '').trim().split('\n').slice(-2).join(' | ')}`}`;
}

const VERIFIED = 'snapdump verify: no differences (besides the times of DEST itself)';

/** Size and inode count of the scratch file system for a set: at least 3 GiB, else from the data. */
export function scratchSize(ds: Dataset): { sizeBytes: number; inodes: number } {
  const sizeBytes = Math.max(3 * 2 ** 30, Math.ceil(ds.allocatedBytes * 1.25) + 512 * 2 ** 20);
  const inodes = Math.ceil((ds.files + ds.directories) * 1.2) + 4096;
  return { sizeBytes, inodes };
}

async function benchSet(ds: Dataset, bin: string, inputs: Inputs, withBsdtar: boolean, scratchDir: string, runs: number, idleWait: number, warmupRound: boolean, notes: string[]): Promise<RestoreToolResult[]> {
  const tools: Tool[] = [
    { name: 'snapdump', input: inputs.snapdump.path, argv: [bin, 'restore', '-f', inputs.snapdump.path, '-C', 'DEST'], cwdDest: false, display: `${bin} restore -f ${inputs.snapdump.path} -C DEST`, extraTopNames: [SNAPDUMP_STATE] },
    { name: 'tar', input: inputs.tar.path, argv: ['tar', '-xf', inputs.tar.path, '-C', 'DEST'], cwdDest: false, display: `tar -xf ${inputs.tar.path} -C DEST`, extraTopNames: [] },
  ];
  if (withBsdtar) tools.push({ name: 'bsdtar', input: inputs.tar.path, argv: ['bsdtar', '-xf', inputs.tar.path, '-C', 'DEST'], cwdDest: false, display: `bsdtar -xf ${inputs.tar.path} -C DEST`, extraTopNames: [] });
  if (inputs.dump) {
    tools.push({
      name: 'restore -r', input: inputs.dump.path, argv: ['restore', '-r', '-y', '-f', inputs.dump.path, '-T', 'TMP'], cwdDest: true,
      display: `cd DEST && restore -r -y -f ${inputs.dump.path} -T TMP`,
      // restore -r writes its symbol table into DEST; the ext4 image's lost+found comes along.
      extraTopNames: ['restoresymtable', 'lost+found'],
    });
  }
  const inputBytes = (t: Tool) => fs.statSync(t.input).size;
  const { sizeBytes, inodes } = scratchSize(ds);
  const timeFile = path.join(scratchDir, `.restore-time-${process.pid}`);
  const acc = new Map<string, RunOutcome[]>(tools.map((t) => [t.name, []]));
  const checks = new Map<string, RestoreToolResult['check']>();
  const busyRuns: string[] = [];
  // Round 0 is an untimed warm-up (the output checks happen there): first runs on a set were up to
  // twice as slow as later ones here, with the extra time in the tool's own system time (fresh
  // page-cache memory: the host takes back free memory), which would penalise whichever tool runs first.
  const first = warmupRound ? 0 : 1;
  for (let i = first; i <= runs; i++) {
    const label = i === 0 ? 'warm-up' : `run ${i}/${runs}`;
    for (const t of tools) {
      // Let the event loop turn: without it (--idle-wait 0) every await here resolves at once, the
      // whole run is synchronous, and SIGINT/SIGTERM handlers (teardown) would only run at the end.
      await new Promise<void>((r) => setImmediate(r));
      let s: ScratchFs | null = null;
      try {
        s = makeScratchFs(scratchDir, sizeBytes, inodes);
        if (!s.directIo && !notes.some((n) => n.startsWith('scratch loop device'))) notes.push(`scratch loop device without direct I/O (${s.device} on ${scratchDir}): writes are cached twice; large-file results suffer from dirty-page throttling`);
        const dest = path.join(s.mountPoint, 'dest');
        const tmp = path.join(s.mountPoint, 'tmp');
        fs.mkdirSync(dest);
        fs.mkdirSync(tmp);
        // Flush mke2fs's writes and whatever else is dirty, so write-back does not run during the timing.
        spawnSync('sync', { stdio: 'ignore' });
        if (await waitForIdle(idleWait) < 0) { if (i > 0) notes.push(`${ds.name} ${t.name} run ${i}: machine still busy after ${idleWait} s; ran anyway`); }
        warmDevice(t.input); // from the page cache (DAMON pages out what is untouched for a minute)
        const o = timedRun(t.argv.map((a) => (a === 'DEST' ? dest : a === 'TMP' ? tmp : a)), t.cwdDest ? dest : undefined, timeFile);
        if (i > 0) acc.get(t.name)!.push(o);
        let checkText = '';
        if (!o.error && !checks.has(t.name)) {
          // Untimed: a broken restore must not look fast.
          const c = countTree(dest, t.extraTopNames);
          const check: NonNullable<RestoreToolResult['check']> = { ...c, ok: c.files === ds.files && c.bytes === ds.bytes };
          if (t.name === 'snapdump') {
            const t0 = performance.now();
            const v = verifyRestore(bin, t.input, dest);
            check.verify = v ?? VERIFIED;
            if (v) check.ok = false;
            log(`  ${ds.name} snapdump verify: ${check.verify} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
          }
          checks.set(t.name, check);
          checkText = `  check ${check.ok ? 'ok' : 'MISMATCH'} (${c.files} files, ${c.bytes} bytes)`;
        }
        log(`  ${ds.name} ${label.padEnd(7)} ${t.name.padEnd(10)} ${o.seconds.toFixed(2).padStart(6)} s  cpu ${o.userSeconds.toFixed(2)} u ${o.sysSeconds.toFixed(2)} s  ${(o.rssKiB / 1024).toFixed(0).padStart(4)} MiB RSS  others ${o.otherCpuSeconds.toFixed(2)} cpu-s${o.busiestOthers ? ` (${o.busiestOthers})` : ''}${checkText}${o.error ? `  FAILED: ${o.error}` : ''}`);
        if (i > 0 && o.otherCpuSeconds > 0.25 * o.seconds) busyRuns.push(`${t.name} #${i} (${o.otherCpuSeconds.toFixed(1)} CPU-s in ${o.seconds.toFixed(1)} s${o.busiestOthers ? `: ${o.busiestOthers}` : ''})`);
      } catch (e) {
        if (i > 0) acc.get(t.name)!.push({ seconds: NaN, rssKiB: NaN, userSeconds: NaN, sysSeconds: NaN, otherCpuSeconds: NaN, busiestOthers: '', error: (e as Error).message });
        log(`  ${ds.name} ${label} ${t.name}: FAILED: ${(e as Error).message}`);
      } finally {
        if (s) destroyScratchFs(s);
      }
    }
  }
  if (busyRuns.length) {
    notes.push(`${ds.name}: runs during which the rest of the machine used over a quarter of a CPU (other sessions, or kernel threads working for the tool: the loop device, write-back, jbd2): ${busyRuns.join(', ')}`);
  }
  const results: RestoreToolResult[] = tools.map((t) => {
    const all = acc.get(t.name)!;
    const ok = all.filter((o) => !o.error);
    const secs = ok.map((o) => o.seconds);
    const med = median(secs);
    const rss = ok.map((o) => (o.rssKiB * 1024) / 1e6);
    const check = checks.get(t.name) ?? null;
    const errors: string[] = [];
    if (ok.length < all.length) errors.push(all.find((o) => o.error)!.error!);
    if (check && !check.ok) errors.push(`output check failed: ${check.files} files / ${check.bytes} bytes restored, set has ${ds.files} / ${ds.bytes}${check.verify && check.verify !== VERIFIED ? `; ${check.verify}` : ''}`);
    return {
      dataset: ds.name, tool: t.name, command: t.display, input: t.input, inputBytes: inputBytes(t),
      runs: secs, medianSeconds: med, minSeconds: Math.min(...secs),
      userSeconds: median(ok.map((o) => o.userSeconds)), sysSeconds: median(ok.map((o) => o.sysSeconds)),
      otherCpuSeconds: all.map((o) => o.otherCpuSeconds),
      filesPerSecond: ds.files / med, mbPerSecond: ds.bytes / 1e6 / med,
      peakRssMB: rss.length ? Math.max(...rss) : NaN, peakRssRuns: rss,
      check, speedVsTar: null, speedVsBsdtar: null, speedVsRestore: null,
      ...(errors.length ? { error: errors.join('; ') } : {}),
    };
  });
  const ref = (name: string) => results.find((r) => r.tool === name && Number.isFinite(r.medianSeconds));
  const tar = ref('tar'); const bsd = ref('bsdtar'); const rr = ref('restore -r');
  for (const r of results) {
    if (tar) r.speedVsTar = tar.medianSeconds / r.medianSeconds;
    if (bsd) r.speedVsBsdtar = bsd.medianSeconds / r.medianSeconds;
    if (rr) r.speedVsRestore = rr.medianSeconds / r.medianSeconds;
  }
  return results;
}

const ratio = (x: number | null) => (x === null || !Number.isFinite(x) ? '–' : `${x.toFixed(2)}x`);

function printResults(results: RestoreToolResult[]): void {
  const rows = results.map((r) => [
    r.dataset, r.tool, fmt(r.medianSeconds, 2), r.runs.map((s) => s.toFixed(2)).join(' '),
    `${r.userSeconds.toFixed(2)}+${r.sysSeconds.toFixed(2)}`,
    fmt(r.filesPerSecond), fmt(r.mbPerSecond), fmt(r.peakRssMB),
    ratio(r.speedVsTar), ratio(r.speedVsBsdtar), ratio(r.speedVsRestore),
    r.check ? (r.check.ok ? 'ok' : 'MISMATCH') : '–',
    r.error ? `FAILED: ${r.error.slice(0, 80)}` : '',
  ]);
  process.stdout.write('\n' + renderTable(
    ['set', 'tool', 'median s', 'runs s', 'cpu u+s', 'files/s', 'MB/s', 'peak RSS MB', 'vs tar -x', 'vs bsdtar -x', 'vs restore -r', 'check', ''], rows,
  ) + '\n\n');
  for (const s of results.filter((r) => r.tool === 'snapdump')) {
    process.stdout.write(`${s.dataset}: snapdump/tar-extract ${ratio(s.speedVsTar)}, snapdump/bsdtar ${ratio(s.speedVsBsdtar)}, snapdump/restore -r ${ratio(s.speedVsRestore)} (speed ratios: above 1 = snapdump faster)\n`);
  }
  process.stdout.write('\n');
}

function evaluateGoals(results: RestoreToolResult[], sets: Dataset[]): RestoreRunReport['goals'] {
  const goals: RestoreRunReport['goals'] = [];
  const get = (set: string, tool: string) => results.find((r) => r.dataset === set && r.tool === tool);
  const usable = (r: RestoreToolResult | undefined) => r !== undefined && Number.isFinite(r.medianSeconds);
  const broken = (r: RestoreToolResult) => r.check !== null && !r.check.ok;
  const small = sets.find((s) => s.params.kind === 'small');
  const large = sets.find((s) => s.params.kind === 'large');
  if (small) {
    const s = get(small.name, 'snapdump'); const t = get(small.name, 'tar');
    const goal = `small (${small.name}): snapdump restore files/s ≥ 1.2 × GNU tar extraction's`;
    if (usable(s) && usable(t)) {
      goals.push({ goal, measured: `${fmt(s!.filesPerSecond)} vs 1.2 × ${fmt(t!.filesPerSecond)} = ${fmt(1.2 * t!.filesPerSecond)} (${ratio(s!.speedVsTar)})${broken(s!) ? '; snapdump output check FAILED' : ''}`, met: !broken(s!) && s!.filesPerSecond >= 1.2 * t!.filesPerSecond });
    } else goals.push({ goal, measured: 'not measured', met: null });
  }
  if (large) {
    const s = get(large.name, 'snapdump'); const b = get(large.name, 'bsdtar');
    const goal = `large (${large.name}): snapdump restore MB/s ≥ bsdtar extraction's`;
    if (usable(s) && usable(b)) {
      goals.push({ goal, measured: `${fmt(s!.mbPerSecond)} vs ${fmt(b!.mbPerSecond)} (${ratio(s!.speedVsBsdtar)})${broken(s!) ? '; snapdump output check FAILED' : ''}`, met: !broken(s!) && s!.mbPerSecond >= b!.mbPerSecond });
    } else goals.push({ goal, measured: usable(s) ? 'bsdtar not measured' : 'not measured', met: null });
  }
  if (small && large) {
    const a = get(small.name, 'snapdump'); const b = get(large.name, 'snapdump');
    const goal = 'snapdump restore memory bounded by the tree, not file sizes (peak RSS large ≤ small)';
    if (usable(a) && usable(b)) goals.push({ goal, measured: `${fmt(b!.peakRssMB)} MB large vs ${fmt(a!.peakRssMB)} MB small`, met: b!.peakRssMB <= a!.peakRssMB });
    else goals.push({ goal, measured: 'not measured', met: null });
  }
  return goals;
}

export async function restoreRun(argv: readonly string[]): Promise<RestoreRunReport> {
  const args = parseArgs(argv, ['dir', 'runs', 'json', 'snapdump', 'idle-wait']);
  const idleWait = Number(args.values.get('idle-wait') ?? 120);
  const bin = snapdumpBin(args.values);
  const quick = args.flags.has('quick');
  const wantSmall = args.flags.has('small') || !args.flags.has('large');
  const wantLarge = args.flags.has('large') || !args.flags.has('small');
  const workdir = path.resolve(args.values.get('dir') ?? process.env.SNAPDUMP_BENCH_DIR ?? '/var/tmp/snapdump-bench');
  const runs = Number(args.values.get('runs') ?? 3);
  const warmupRound = !args.flags.has('no-warmup');
  const jsonPath = path.resolve(args.values.get('json') ?? path.join(REPO_ROOT, 'bench', 'results', 'restore-latest.json'));
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
  if (!fs.existsSync(path.join(path.dirname(path.dirname(bin)), 'dist', 'src', 'cli', 'main.js'))) throw new Error(`snapdump at ${bin} is not built: run \`npm run build\` first`);
  if (process.getuid?.() !== 0) throw new Error('the restore benchmark needs root: every run restores into a freshly made, loop-mounted ext4 file system');
  for (const cmd of ['mke2fs', 'losetup', 'mount', 'umount']) if (!commandExists(cmd)) throw new Error(`the restore benchmark needs ${cmd}`);
  const build = describeBuild(bin);
  const version = snapdumpVersion(bin);
  log(`snapdump under test: ${build} (version ${version})`);

  const notes: string[] = [];
  const withDump = !args.flags.has('no-dump') && commandExists('dump') && commandExists('restore');
  if (!withDump) notes.push(`Linux restore -r not compared: ${args.flags.has('no-dump') ? '--no-dump given' : 'dump or restore missing'}`);
  const withBsdtar = commandExists('bsdtar');
  if (!withBsdtar) notes.push('bsdtar not compared: not installed (package libarchive-tools)');
  if (!fs.existsSync(TIME_BIN)) notes.push(`${TIME_BIN} missing: peak RSS not measured`);
  const dumpVersion = withDump ? firstLine('dump', []) : null;

  const startedAt = new Date().toISOString();
  const stale: string[] = [];
  const sets: Dataset[] = [];
  if (wantSmall) sets.push(ensureDataset(workdir, smallParams(quick), stale));
  if (wantLarge) sets.push(ensureDataset(workdir, largeParams(quick), stale));
  const scratchDir = path.join(workdir, 'out');
  fs.mkdirSync(scratchDir, { recursive: true });
  cleanLeftovers(scratchDir);

  const results: RestoreToolResult[] = [];
  try {
    for (const ds of sets) {
      log(`${ds.name}: ${ds.files} files, ${ds.directories} directories, ${(ds.bytes / 1e6).toFixed(0)} MB; ${warmupRound ? 'an untimed warm-up run, then ' : ''}${runs} timed runs per tool`);
      try {
        const inputs = ensureInputs(workdir, ds, bin, withDump, dumpVersion);
        results.push(...await benchSet(ds, bin, inputs, withBsdtar, scratchDir, runs, idleWait, warmupRound, notes));
      } catch (e) {
        notes.push(`${ds.name}: ${(e as Error).message}`);
        log(`${ds.name}: FAILED: ${(e as Error).message}`); // go on with the next set
      }
    }
  } finally {
    for (const s of stale) {
      log(`removing stale copy ${s}`);
      fs.rmSync(s, { recursive: true, force: true });
    }
  }

  const goals = evaluateGoals(results, sets);
  const report: RestoreRunReport = {
    format: 'snapdump-bench-restore/1',
    startedAt, finishedAt: new Date().toISOString(),
    machine: {
      cpus: os.availableParallelism(), cpuModel: os.cpus()[0]?.model ?? 'unknown', memoryGB: Math.round(os.totalmem() / 1e9),
      kernel: os.release(), node: process.version, tar: firstLine('tar', ['--version']),
      bsdtar: withBsdtar ? firstLine('bsdtar', ['--version']) : null, restore: withDump ? firstLine('restore', []) : null,
    },
    options: { workdir, runs, warmupRound, quick, sets: sets.map((s) => s.name), dump: withDump, bsdtar: withBsdtar, snapdump: bin, snapdumpVersion: version, build, idleWait },
    datasets: sets.map((s) => ({ name: s.name, dir: s.dir, files: s.files, directories: s.directories, bytes: s.bytes, params: s.params, scratchFs: scratchSize(s) })),
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
