/**
 * Incremental benchmark: a level-1 backup after touching 1 % of the files of the small set
 * (100,000 files; --quick: 10,000), `snapdump backup -l 1` beside GNU tar
 * `--listed-incremental`, whole processes, warm cache, output to a file, median of N, in the
 * same run. Both have the same base: a level 0 (snapdump, recorded in a private state
 * directory) and a level-0 tar snapshot file, taken before the touch. Every timed snapdump run
 * is `--no-update` (the base stays that level 0) and every tar run starts from a fresh copy of
 * the level-0 snapshot file (tar rewrites it), made before the clock starts.
 *
 * The cached data set is never modified: the tree is copied once (`cp -a`) to
 * `<workdir>/incr-<set>/tree`, and only the copy is touched (its mtimes are set to now).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureDataset, smallParams, warmTree, type Dataset } from './datasets.js';
import { REPO_ROOT, fmt, log, median, parseArgs, renderTable } from './util.js';
import { TIME_BIN, describeBuild, firstLine, snapdumpBin, waitForIdle } from './whole-run.js';

interface Timed { seconds: number; rssMB: number; user: number; sys: number; outputBytes: number }

function timed(argv: string[], out: string, timeFile: string): Timed {
  try { fs.unlinkSync(out); } catch { /* none */ }
  const t0 = performance.now();
  const r = spawnSync(TIME_BIN, ['-f', '%M %U %S', '-o', timeFile, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${r.stderr?.toString().trim().split('\n').slice(-3).join(' | ')}`);
  const [rss, user, sys] = fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number) as [number, number, number];
  const outputBytes = fs.statSync(out).size;
  return { seconds, rssMB: (rss * 1024) / 1e6, user, sys, outputBytes };
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr?.toString().trim()}`);
}

/** A private copy of the data set (made once, reused while its marker matches). */
function workingCopy(workdir: string, ds: Dataset): string {
  const base = path.join(workdir, `incr-${ds.name}`);
  const tree = path.join(base, 'tree');
  const marker = path.join(base, 'copy.json');
  const want = JSON.stringify({ dataset: ds.name, params: ds.params });
  if (fs.existsSync(tree) && fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === want) return tree;
  fs.rmSync(base, { recursive: true, force: true });
  fs.mkdirSync(base, { recursive: true });
  log(`${ds.name}: copying the data set to ${tree} (once; the cached set is never touched) ...`);
  const t0 = performance.now();
  run('cp', ['-a', ds.dir, tree]);
  spawnSync('sync', { stdio: 'ignore' });
  fs.writeFileSync(marker, want);
  log(`${ds.name}: copied in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return tree;
}

/** Every regular file of the tree, in a stable order. */
function regularFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p); else if (e.isFile()) out.push(p);
    }
  };
  walk(dir);
  return out;
}

export interface IncrementalReport {
  format: 'snapdump-bench-incremental/1';
  startedAt: string;
  machine: { cpus: number; cpuModel: string; kernel: string; node: string; tar: string };
  options: { workdir: string; runs: number; quick: boolean; snapdump: string; build: string; idleWait: number; compare: string | null };
  dataset: { name: string; files: number; directories: number; bytes: number; touched: number };
  level0: { snapdumpSeconds: number; tarSeconds: number };
  results: Array<{ tool: string; command: string; runs: number[]; medianSeconds: number; userSeconds: number; sysSeconds: number; peakRssMB: number; outputBytes: number; speedVsTar: number }>;
  goal: { goal: string; measured: string; met: boolean };
  notes: string[];
}

export async function incrementalRun(argv: readonly string[]): Promise<IncrementalReport> {
  const args = parseArgs(argv, ['dir', 'runs', 'json', 'snapdump', 'idle-wait', 'compare']);
  const idleWait = Number(args.values.get('idle-wait') ?? 120);
  const quick = args.flags.has('quick');
  const runs = Number(args.values.get('runs') ?? 3);
  const bin = snapdumpBin(args.values);
  const workdir = path.resolve(args.values.get('dir') ?? process.env.SNAPDUMP_BENCH_DIR ?? '/var/tmp/snapdump-bench');
  const jsonPath = path.resolve(args.values.get('json') ?? path.join(REPO_ROOT, 'bench', 'results', 'incremental-latest.json'));
  if (!fs.existsSync(TIME_BIN)) throw new Error(`${TIME_BIN} is needed (apt-get install time)`);
  const build = describeBuild(bin);
  log(`snapdump under test: ${build}`);
  // Another build timed in the same rounds (before/after a change): same tree, same base.
  const compareBin = args.values.has('compare') ? path.resolve(args.values.get('compare')!) : null;
  const compareBuild = compareBin ? describeBuild(compareBin) : null;
  if (compareBuild) log(`compared with: ${compareBuild}`);
  const notes: string[] = [];
  const startedAt = new Date().toISOString();
  const stale: string[] = [];
  const ds = ensureDataset(workdir, smallParams(quick), stale);
  for (const s of stale) fs.rmSync(s, { recursive: true, force: true });
  const tree = workingCopy(workdir, ds);
  const scratch = path.join(workdir, `incr-${ds.name}`, 'run');
  fs.rmSync(scratch, { recursive: true, force: true });
  fs.mkdirSync(scratch, { recursive: true });
  const state = path.join(scratch, 'state');
  const snar0 = path.join(scratch, 'level0.snar');
  const snar = path.join(scratch, 'level1.snar');
  const out = path.join(scratch, 'out');
  const timeFile = path.join(scratch, '.time');

  try {
    log(`${ds.name}: warm-up read of the copy (untimed) ...`);
    warmTree(tree);
    // The bases: untimed level 0 of each tool.
    const s0 = timed([bin, 'backup', tree, '-f', out, '-l', '0', '--state', state, '--name', 'bench', '--quiet'], out, timeFile);
    const t0 = timed(['tar', '--listed-incremental', snar0, '-cf', out, '-C', tree, '.'], out, timeFile);
    fs.unlinkSync(out);
    log(`${ds.name}: level 0: snapdump ${s0.seconds.toFixed(2)} s, tar ${t0.seconds.toFixed(2)} s`);
    // Touch 1 % of the files, spread evenly, a second after the level 0s (dates are in seconds).
    await new Promise((r) => setTimeout(r, 1100));
    const files = regularFiles(tree);
    const touched = Math.round(files.length / 100);
    const now = new Date();
    for (let i = 0; i < touched; i++) fs.utimesSync(files[Math.floor((i * files.length) / touched)]!, now, now);
    log(`${ds.name}: touched ${touched} of ${files.length} files`);

    // Sanity (untimed): the level 1 holds exactly the touched files.
    run(bin, ['backup', tree, '-f', out, '-l', '1', '--state', state, '--name', 'bench', '--no-update', '--quiet']);
    const listed = spawnSync(bin, ['list', '-f', out, '--json'], { encoding: 'utf8', maxBuffer: 256 << 20 }).stdout.split('\n')
      .filter((l) => l.includes('"kind":"entry"') && !l.includes('"type":"dir"')).length;
    if (listed !== touched) throw new Error(`the level 1 holds ${listed} files, not the ${touched} touched`);

    type Tool = 'snapdump' | 'compare' | 'tar';
    const tools: Tool[] = compareBin ? ['snapdump', 'compare', 'tar'] : ['snapdump', 'tar'];
    const acc: Record<Tool, Timed[]> = { snapdump: [], compare: [], tar: [] };
    for (let i = 0; i < runs; i++) {
      for (const tool of tools) {
        if (await waitForIdle(idleWait) < 0) notes.push(`${tool} run ${i + 1}: machine still busy after ${idleWait} s; ran anyway`);
        if (tool === 'tar') fs.copyFileSync(snar0, snar);
        const argv = tool === 'tar'
          ? ['tar', '--listed-incremental', snar, '-cf', out, '-C', tree, '.']
          : [tool === 'compare' ? compareBin! : bin, 'backup', tree, '-f', out, '-l', '1', '--state', state, '--name', 'bench', '--no-update', '--quiet'];
        const t = timed(argv, out, timeFile);
        acc[tool].push(t);
        log(`  run ${i + 1}/${runs} ${tool.padEnd(8)} ${t.seconds.toFixed(3)} s  cpu ${t.user.toFixed(2)} u ${t.sys.toFixed(2)} s  ${t.rssMB.toFixed(0)} MB RSS  ${(t.outputBytes / 1e6).toFixed(1)} MB out`);
      }
    }
    const tarMedian = median(acc.tar.map((t) => t.seconds));
    const results = tools.map((tool) => {
      const ts = acc[tool];
      const med = median(ts.map((t) => t.seconds));
      return {
        tool: tool === 'compare' ? `snapdump (${compareBuild})` : tool,
        command: tool === 'tar' ? 'tar --listed-incremental SNAR -cf OUT -C TREE .' : `snapdump backup TREE -f OUT -l 1 --no-update`,
        runs: ts.map((t) => t.seconds), medianSeconds: med, userSeconds: median(ts.map((t) => t.user)), sysSeconds: median(ts.map((t) => t.sys)),
        peakRssMB: Math.max(...ts.map((t) => t.rssMB)), outputBytes: ts[0]!.outputBytes, speedVsTar: tarMedian / med,
      };
    });
    const sd = results[0]!;
    const report: IncrementalReport = {
      format: 'snapdump-bench-incremental/1', startedAt,
      machine: { cpus: os.availableParallelism(), cpuModel: os.cpus()[0]?.model ?? 'unknown', kernel: os.release(), node: process.version, tar: firstLine('tar', ['--version']) },
      options: { workdir, runs, quick, snapdump: bin, build, idleWait, compare: compareBuild },
      dataset: { name: ds.name, files: ds.files, directories: ds.directories, bytes: ds.bytes, touched },
      level0: { snapdumpSeconds: s0.seconds, tarSeconds: t0.seconds },
      results,
      goal: { goal: 'level 1 after touching 1 %: snapdump at least as fast as GNU tar --listed-incremental', measured: `${fmt(sd.medianSeconds, 2)} s vs ${fmt(tarMedian, 2)} s (${sd.speedVsTar.toFixed(2)}x)`, met: sd.speedVsTar >= 1 },
      notes,
    };
    process.stdout.write('\n' + renderTable(['tool', 'median s', 'runs s', 'cpu u+s', 'peak RSS MB', 'output MB', 'speed vs tar'], results.map((r) => [
      r.tool, fmt(r.medianSeconds, 3), r.runs.map((s) => s.toFixed(3)).join(' '), `${r.userSeconds.toFixed(2)}+${r.sysSeconds.toFixed(2)}`,
      fmt(r.peakRssMB), fmt(r.outputBytes / 1e6), `${r.speedVsTar.toFixed(2)}x`,
    ])) + '\n\n');
    process.stdout.write(`${report.goal.met ? ' PASS' : ' FAIL'}  ${report.goal.goal}: ${report.goal.measured}\n`);
    for (const n of notes) process.stdout.write(`note: ${n}\n`);
    fs.mkdirSync(path.dirname(jsonPath), { recursive: true });
    fs.writeFileSync(jsonPath, JSON.stringify(report, null, 2) + '\n');
    process.stdout.write(`results written to ${jsonPath}\n`);
    return report;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
