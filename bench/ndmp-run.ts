/**
 * NDMP throughput (issue 7 goal: NDMP at least 90 % of the CLI's): the same backup of each data
 * set by `snapdump backup` to a file and by Amanda's `ndmjob -c` through `snapdump ndmpd` (one
 * connection, LOCAL data connection, onto a virtual tape on the same disk), runs interleaved
 * (CLI, NDMP, CLI, NDMP, ...) so that drift of the machine hits both alike; medians.
 *
 *   node dist/bench/run.js ndmp [--small] [--large] [--quick] [--runs N] [--idle-wait S] [--hist]
 *                               [--record-blocks N] [--dir DIR] [--json FILE] [--snapdump BIN]
 *
 * CPU seconds (user + system, from /proc) are the CLI process's and the server's during the ndmjob run.
 *
 * Times are wall times of the whole processes (ndmjob's includes connecting, its polls and its
 * wind-down: filemarks, rewind, close). The server's own time for the data operation (from
 * DATA_START_BACKUP to the halt) is read from its log and shown beside it. `--hist` adds file
 * history (ndmjob -I); `--record-blocks N` is ndmjob's -b (record size N × 512, default 20).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureDataset, largeParams, smallParams, warmTree, type Dataset } from './datasets.js';
import { describeBuild, snapdumpBin, waitForIdle } from './whole-run.js';
import { REPO_ROOT, fmt, log, median, parseArgs, renderTable } from './util.js';

const NDMJOB = '/usr/lib/amanda/ndmjob';

interface Server { child: ChildProcess; port: number; logs: string[] }

async function startServer(bin: string, volume: string, tape: string, state: string): Promise<Server> {
  const child = spawn(process.execPath, [bin, 'ndmpd', '--listen', '127.0.0.1:0', '--volume', `bench=${volume}`, '--tape', `bench=${tape}`,
    '--user', 'bench:bench', '--state', state], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  let pending = '';
  child.stderr!.on('data', (b: Buffer) => {
    pending += b.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    logs.push(...lines);
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /listening on [^:]+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`ndmpd exited (${code}): ${logs.join('\n')}`)));
  });
  return { child, port, logs };
}

function stopServer(s: Server): Promise<void> {
  return new Promise((resolve) => {
    if (s.child.exitCode !== null) { resolve(); return; }
    s.child.once('exit', () => resolve());
    s.child.kill('SIGTERM');
  });
}

/**
 * Before each timed backup: nothing of an earlier one still waiting to be written back. (Until
 * 2026-11-22 the tape's 2 GB were, while the CLI ran next, and the CLI's image was deleted
 * unwritten before ndmjob ran: the CLI ran against the writeback of the tape, ndmjob never.)
 */
function settleWriteback(): void {
  spawnSync('sync');
}

interface Sample { cli: number; ndmp: number; server: number; cliCpu: number; serverCpu: number }

/**
 * CPU seconds (user + system) from /proc/PID/stat (Linux): of the live process itself, or of its
 * children waited for so far (`children`: cutime + cstime, which grows when spawnSync reaps one).
 */
function cpuSeconds(pid: number | 'self', children = false): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
  // stat(5) fields 14-17 (utime, stime, cutime, cstime); the two up to the name are cut off above.
  const at = children ? 13 : 11;
  return (Number(fields[at]) + Number(fields[at + 1])) / CLOCK_TICKS;
}
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

export interface NdmpRunReport {
  format: 'snapdump-bench-ndmp/1';
  startedAt: string;
  machine: { cpus: number; cpuModel: string; memoryGB: number };
  options: { runs: number; quick: boolean; hist: boolean; recordBlocks: number; build: string };
  results: Array<{ dataset: string; files: number; bytes: number; samples: Sample[]; cliSeconds: number; ndmpSeconds: number; serverSeconds: number; ratio: number; serverRatio: number; cliCpuSeconds: number; serverCpuSeconds: number }>;
}

export async function ndmpRun(argv: readonly string[]): Promise<NdmpRunReport> {
  const args = parseArgs(argv, ['dir', 'runs', 'idle-wait', 'json', 'snapdump', 'record-blocks']);
  const quick = args.flags.has('quick');
  const hist = args.flags.has('hist');
  const runs = Number(args.values.get('runs') ?? 3);
  const idleWait = Number(args.values.get('idle-wait') ?? 20);
  const recordBlocks = Number(args.values.get('record-blocks') ?? 20);
  const workdir = args.values.get('dir') ?? process.env.SNAPDUMP_BENCH_DIR ?? '/var/tmp/snapdump-bench';
  const sets = args.flags.has('small') || args.flags.has('large')
    ? [...(args.flags.has('small') ? [smallParams(quick)] : []), ...(args.flags.has('large') ? [largeParams(quick)] : [])]
    : [smallParams(quick), largeParams(quick)];
  if (!fs.existsSync(NDMJOB)) throw new Error(`${NDMJOB} is missing (Debian package amanda-server)`);
  const bin = snapdumpBin(args.values);
  const out = fs.mkdtempSync(path.join(workdir, 'ndmp-out-'));
  const state = path.join(out, 'state');
  const cliImage = path.join(out, 'cli.dump');
  const tape = path.join(out, 'tape.vtape');
  const index = path.join(out, 'ndmp.idx');
  fs.writeFileSync(tape, '');
  const server = await startServer(bin, workdir, tape, state);
  const report: NdmpRunReport = {
    format: 'snapdump-bench-ndmp/1', startedAt: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', memoryGB: Math.round(os.totalmem() / 2 ** 30) },
    options: { runs, quick, hist, recordBlocks, build: describeBuild(bin) }, results: [],
  };
  try {
    for (const p of sets) {
      const ds: Dataset = ensureDataset(workdir, p, []);
      warmTree(ds.dir);
      const samples: Sample[] = [];
      for (let i = 0; i < runs; i++) {
        const waited = await waitForIdle(idleWait);
        if (waited < 0) log(`  machine still busy after ${idleWait} s; measuring anyway`);
        fs.rmSync(cliImage, { force: true });
        settleWriteback();
        const cpu0 = cpuSeconds('self', true);
        let t0 = performance.now();
        const c = spawnSync(process.execPath, [bin, 'backup', ds.dir, '-f', cliImage, '--state', state, '--no-update', '--quiet'], { encoding: 'utf8' });
        const cli = (performance.now() - t0) / 1000;
        const cliCpu = cpuSeconds('self', true) - cpu0;
        if (c.status !== 0) throw new Error(`snapdump backup failed: ${c.stderr}`);
        fs.rmSync(cliImage, { force: true });

        await waitForIdle(idleWait);
        fs.rmSync(index, { force: true });
        settleWriteback();
        const before = server.logs.length;
        const serverCpu0 = cpuSeconds(server.child.pid!);
        t0 = performance.now();
        const n = spawnSync(NDMJOB, ['-c', '-D', `127.0.0.1:${server.port}/4t,bench,bench`, '-B', 'dump', '-C', ds.dir, '-f', 'bench',
          '-b', String(recordBlocks), '-E', 'UPDATE=n', ...(hist ? ['-I', index] : []), '-v'], { encoding: 'utf8', maxBuffer: 64 << 20 });
        const ndmp = (performance.now() - t0) / 1000;
        const output = `${n.stdout}${n.stderr}`;
        if (!/Operation ended OKAY/.test(output)) throw new Error(`ndmjob backup failed:\n${output.slice(-3000)}`);
        // The server's log arrives through this process's event loop, which spawnSync held.
        let line: string | undefined;
        for (let w = 0; w < 100 && !line; w++) {
          await new Promise((r) => setTimeout(r, 20));
          line = server.logs.slice(before).find((l) => /data operation backup halted successful after/.test(l));
        }
        const serverSeconds = line ? Number(/after ([\d.]+) s/.exec(line)![1]) : NaN;
        const serverCpu = cpuSeconds(server.child.pid!) - serverCpu0;
        samples.push({ cli, ndmp, server: serverSeconds, cliCpu, serverCpu });
        log(`${ds.name} run ${i + 1}: CLI ${cli.toFixed(2)} s (${cliCpu.toFixed(2)} CPU-s), ndmjob ${ndmp.toFixed(2)} s (server data operation ${serverSeconds.toFixed(2)} s, server ${serverCpu.toFixed(2)} CPU-s), tape ${fmt(fs.statSync(tape).size / 1e6)} MB`);
        // As the CLI's image is deleted at once (its dirty pages dropped, never written back), so is the tape's content.
        fs.truncateSync(tape, 0);
      }
      const cliSeconds = median(samples.map((s) => s.cli));
      const ndmpSeconds = median(samples.map((s) => s.ndmp));
      const serverSeconds = median(samples.map((s) => s.server));
      report.results.push({ dataset: ds.name, files: ds.files, bytes: ds.bytes, samples, cliSeconds, ndmpSeconds, serverSeconds, ratio: cliSeconds / ndmpSeconds, serverRatio: cliSeconds / serverSeconds,
        cliCpuSeconds: median(samples.map((s) => s.cliCpu)), serverCpuSeconds: median(samples.map((s) => s.serverCpu)) });
    }
  } finally {
    await stopServer(server);
    fs.rmSync(out, { recursive: true, force: true });
  }
  const rows = report.results.map((r) => [
    r.dataset, fmt(r.cliSeconds, 2), fmt(r.ndmpSeconds, 2), fmt(r.serverSeconds, 2),
    fmt(r.bytes / 1e6 / r.cliSeconds), fmt(r.bytes / 1e6 / r.ndmpSeconds), `${r.ratio.toFixed(2)}x`, `${r.serverRatio.toFixed(2)}x`,
    fmt(r.cliCpuSeconds, 2), fmt(r.serverCpuSeconds, 2),
  ]);
  process.stdout.write(renderTable(['set', 'CLI s', 'ndmjob s', 'server op s', 'CLI MB/s', 'NDMP MB/s', 'NDMP/CLI', 'server op/CLI', 'CLI CPU-s', 'server CPU-s'], rows) + '\n');
  process.stdout.write(`goal: NDMP throughput ≥ 0.90 × CLI (ndmjob wall time; ${runs} runs each, medians, record size ${recordBlocks * 512} B${hist ? ', with file history' : ''})\n`);
  const json = args.values.get('json') ?? path.join(REPO_ROOT, 'bench', 'results', 'ndmp-latest.json');
  fs.mkdirSync(path.dirname(json), { recursive: true });
  fs.writeFileSync(json, JSON.stringify(report, null, 1) + '\n');
  return report;
}
