/**
 * Benchmark entry point (build first: `npm run build`, or `npm run bench` which builds).
 *
 *   node dist/bench/run.js                       micro-benchmarks, then the whole-run backup and restore benchmarks
 *   node dist/bench/run.js micro [--quick]       micro-benchmarks only
 *   node dist/bench/run.js whole [--small] [--large] [--quick] [--runs N] [--idle-wait S] [--no-dump] [--with-sync]
 *                                [--dir D] [--json FILE] [--snapdump BIN]
 *   node dist/bench/run.js restore [--small] [--large] [--quick] [--runs N] [--idle-wait S] [--no-dump] [--no-warmup]
 *                                  [--dir D] [--json FILE] [--snapdump BIN]
 *   node dist/bench/run.js profile [--small|--large] [--quick] [--restore] [--top N] [--snapdump BIN]
 *   node dist/bench/run.js incremental [--quick] [--runs N] [--idle-wait S] [--dir D] [--json FILE] [--snapdump BIN] [--compare BIN]
 *   node dist/bench/run.js ndmp [--small] [--large] [--quick] [--runs N] [--idle-wait S] [--hist] [--record-blocks N]
 *                               [--dir D] [--json FILE] [--snapdump BIN]
 *
 * See bench/README.md for what each number means.
 */
import { micro } from './micro.js';
import { profile } from './profile.js';
import { restoreRun } from './restore-run.js';
import { incrementalRun } from './incremental-run.js';
import { checkpointRun } from './checkpoint-run.js';
import { ndmpRun } from './ndmp-run.js';
import { wholeRun } from './whole-run.js';

const USAGE = `usage: node dist/bench/run.js [micro|whole|restore|profile|all] [options]
  micro    codec and tape-writer micro-benchmarks (tinybench)      [--quick] [--time MS]
  whole    snapdump vs GNU tar vs Linux dump, whole processes       [--small] [--large] [--quick]
           [--runs N] [--idle-wait S] [--no-dump] [--with-sync] [--dir DIR] [--json FILE] [--snapdump BIN]
           DIR default: $SNAPDUMP_BENCH_DIR or /var/tmp/snapdump-bench; BIN default: $SNAPDUMP_BENCH_BIN or ./bin/snapdump
  restore  snapdump restore vs GNU tar -x, bsdtar -x, Linux restore -r, each into a fresh ext4 (root)
           [--small] [--large] [--quick] [--runs N] [--idle-wait S] [--no-dump] [--no-warmup] [--dir DIR]
           [--json FILE] [--snapdump BIN]; JSON default: bench/results/restore-latest.json
  profile  one snapdump backup (or with --restore: one restore into a fresh ext4) under node --cpu-prof,
           top self time [--small|--large] [--quick] [--restore] [--top N] [--snapdump BIN] [--summarize DIR]
  checkpoint  checkpoint overhead: backups with and without checkpoints [--small] [--large] [--quick] [--runs N] [--dir DIR]
  incremental  level 1 after touching 1 % of the small set: snapdump -l 1 vs tar --listed-incremental
           [--quick] [--runs N] [--idle-wait S] [--dir DIR] [--json FILE] [--snapdump BIN] [--compare BIN];
           --compare times another build (its bin/snapdump) in the same rounds, on the same tree and base;
           JSON default: bench/results/incremental-latest.json
  ndmp     snapdump backup vs ndmjob -c through snapdump ndmpd (LOCAL, virtual tape), interleaved
           [--small] [--large] [--quick] [--runs N] [--idle-wait S] [--hist] [--record-blocks N] [--dir DIR]
           [--json FILE] [--snapdump BIN]; JSON default: bench/results/ndmp-latest.json
  all      micro, whole, then restore (the default); options go to all three
           (with --json FILE, restore writes FILE with -restore before .json)`;

/** In `all`, whole and restore would both write --json FILE: restore gets FILE-restore.json instead. */
function restoreArgs(argv: string[]): string[] {
  const out = [...argv];
  for (let i = 0; i < out.length; i++) {
    const a = out[i]!;
    const rename = (f: string) => (f.endsWith('.json') ? `${f.slice(0, -5)}-restore.json` : `${f}-restore.json`);
    if (a === '--json' && i + 1 < out.length) { out[i + 1] = rename(out[i + 1]!); break; }
    if (a.startsWith('--json=')) { out[i] = `--json=${rename(a.slice(7))}`; break; }
  }
  return out;
}

async function main(argv: string[]): Promise<void> {
  const commands = ['micro', 'whole', 'restore', 'profile', 'incremental', 'checkpoint', 'ndmp', 'all'];
  const command = argv[0] && commands.includes(argv[0]) ? argv[0] : argv[0] === '--help' || argv[0] === '-h' ? 'help' : 'all';
  const rest = command === 'all' && argv[0] !== 'all' ? argv : argv.slice(1);
  switch (command) {
    case 'help': process.stdout.write(USAGE + '\n'); return;
    case 'micro': await micro(rest); return;
    case 'whole': await wholeRun(rest); return;
    case 'restore': await restoreRun(rest); return;
    case 'profile': await profile(rest); return;
    case 'incremental': await incrementalRun(rest); return;
    case 'checkpoint': await checkpointRun(rest); return;
    case 'ndmp': await ndmpRun(rest); return;
    default:
      await micro(rest);
      await wholeRun(rest);
      if (process.getuid?.() !== 0) process.stderr.write('[bench] restore benchmark skipped: it needs root (fresh loop-mounted ext4 per run)\n');
      else await restoreRun(restoreArgs(rest));
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
