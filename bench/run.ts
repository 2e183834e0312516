/**
 * Benchmark entry point (build first: `npm run build`, or `npm run bench` which builds).
 *
 *   node dist/bench/run.js                       micro-benchmarks, then the whole-run benchmark
 *   node dist/bench/run.js micro [--quick]       micro-benchmarks only
 *   node dist/bench/run.js whole [--small] [--large] [--quick] [--runs N] [--idle-wait S] [--no-dump] [--with-sync]
 *                                [--dir D] [--json FILE] [--snapdump BIN]
 *   node dist/bench/run.js profile [--small|--large] [--quick] [--top N] [--snapdump BIN]
 *
 * See bench/README.md for what each number means.
 */
import { micro } from './micro.js';
import { profile } from './profile.js';
import { wholeRun } from './whole-run.js';

const USAGE = `usage: node dist/bench/run.js [micro|whole|profile|all] [options]
  micro    codec and tape-writer micro-benchmarks (tinybench)      [--quick] [--time MS]
  whole    snapdump vs GNU tar vs Linux dump, whole processes       [--small] [--large] [--quick]
           [--runs N] [--idle-wait S] [--no-dump] [--with-sync] [--dir DIR] [--json FILE] [--snapdump BIN]
           DIR default: $SNAPDUMP_BENCH_DIR or /var/tmp/snapdump-bench; BIN default: $SNAPDUMP_BENCH_BIN or ./bin/snapdump
  profile  one snapdump backup under node --cpu-prof, top self time [--small|--large] [--quick] [--top N]
           [--snapdump BIN] [--summarize DIR]
  all      micro then whole (the default); options go to both`;

async function main(argv: string[]): Promise<void> {
  const commands = ['micro', 'whole', 'profile', 'all'];
  const command = argv[0] && commands.includes(argv[0]) ? argv[0] : argv[0] === '--help' || argv[0] === '-h' ? 'help' : 'all';
  const rest = command === 'all' && argv[0] !== 'all' ? argv : argv.slice(1);
  switch (command) {
    case 'help': process.stdout.write(USAGE + '\n'); return;
    case 'micro': await micro(rest); return;
    case 'whole': await wholeRun(rest); return;
    case 'profile': await profile(rest); return;
    default:
      await micro(rest);
      await wholeRun(rest);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
