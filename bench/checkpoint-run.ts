/**
 * Checkpoint overhead (issue 6 goal: under 3 % of the backup's time): the same backup of each
 * data set with checkpoints (the default: file history on, a checkpoint every 5 s) and without
 * (`--no-history`), and with an aggressive 1 s interval, runs interleaved so that drift of the
 * machine hits all variants alike; medians and the overhead in percent.
 *
 *   node dist/bench/run.js checkpoint [--small] [--large] [--quick] [--runs N] [--dir DIR]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureDataset, largeParams, smallParams, warmTree, type Dataset } from './datasets.js';
import { REPO_ROOT, fmt, log, median, parseArgs, renderTable } from './util.js';

interface Variant { name: string; args: string[]; env: Record<string, string> }

const VARIANTS: Variant[] = [
  { name: 'no checkpoints (--no-history)', args: ['--no-history'], env: {} },
  { name: 'checkpoints every 5 s (default)', args: [], env: {} },
  { name: 'checkpoints every 1 s', args: [], env: { SNAPDUMP_CHECKPOINT_MS: '1000' } },
];

function timeBackup(bin: string, ds: Dataset, out: string, state: string, v: Variant): { seconds: number; checkpoints: number } {
  fs.rmSync(out, { force: true });
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [bin, 'backup', ds.dir, '-f', out, '--state', state, '--no-update', '--json', ...v.args], {
    env: { ...process.env, ...v.env }, maxBuffer: 256 << 20,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (r.status !== 0) throw new Error(`snapdump backup failed (${r.status}): ${r.stderr.toString()}`);
  const checkpoints = r.stdout.toString().split('\n').filter((l) => l.includes('"type":"checkpoint"')).length;
  return { seconds, checkpoints };
}

export async function checkpointRun(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv, ['dir', 'runs']);
  const quick = args.flags.has('quick');
  const runs = Number(args.values.get('runs') ?? 3);
  const workdir = args.values.get('dir') ?? process.env.SNAPDUMP_BENCH_DIR ?? '/var/tmp/snapdump-bench';
  const sets = args.flags.has('small') || args.flags.has('large')
    ? [...(args.flags.has('small') ? [smallParams(quick)] : []), ...(args.flags.has('large') ? [largeParams(quick)] : [])]
    : [smallParams(quick), largeParams(quick)];
  const bin = path.join(REPO_ROOT, 'bin/snapdump');
  const outDir = path.join(workdir, 'out');
  fs.mkdirSync(outDir, { recursive: true });
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'snapdump-bench-state-'));
  const rows: Array<Array<string | number>> = [];
  try {
    for (const p of sets) {
      const ds = ensureDataset(workdir, p, []);
      warmTree(ds.dir);
      const out = path.join(outDir, `${ds.name}-checkpoint.dump`);
      const times = VARIANTS.map(() => [] as number[]);
      const counts = VARIANTS.map(() => 0);
      for (let i = 0; i < runs; i++) {
        VARIANTS.forEach((v, k) => {
          const r = timeBackup(bin, ds, out, state, v);
          times[k]!.push(r.seconds);
          counts[k] = r.checkpoints;
          log(`${ds.name} ${v.name} run ${i + 1}: ${r.seconds.toFixed(2)} s, ${r.checkpoints} checkpoints`);
        });
      }
      fs.rmSync(out, { force: true });
      const baseline = median(times[0]!);
      VARIANTS.forEach((v, k) => {
        const m = median(times[k]!);
        rows.push([ds.name, v.name, fmt(m, 2), counts[k]!, k === 0 ? '–' : `${(((m - baseline) / baseline) * 100).toFixed(1)} %`]);
      });
    }
  } finally {
    fs.rmSync(state, { recursive: true, force: true });
  }
  process.stdout.write(renderTable(['set', 'variant', 'median s', 'checkpoints', 'overhead'], rows) + '\n');
}
