/**
 * The command line: a thin layer over the library API. Parses arguments, renders events,
 * and maps outcomes to the documented exit statuses (0 ok, 1 partial, 2 failed).
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { backup } from '../backup.js';
import { SnapdumpError, UsageError, isSnapdumpError } from '../errors.js';
import { jsonReporter, plainReporter, ttyReporter, type Reporter } from './progress.js';
import { listCommand } from './list-command.js';
import { writeAllSync } from './output.js';
import { verifyCommand } from './verify-command.js';
import { restoreCommand } from './restore-command.js';
import { historyCommand } from './history-command.js';
import { snapshotsCommand } from './snapshots-command.js';
import { pauseAfterSnapshotHook } from '../snapshot/test-hook.js';
import { splitExcludeList } from '../select/exclude.js';
import { contextsCommand } from './contexts-command.js';
import { restartBackup } from '../restart.js';
import { ndmpdCommand } from './ndmpd-command.js';
import { vtapeExportCommand } from './vtape-command.js';

export const EXIT_OK = 0;
export const EXIT_PARTIAL = 1;
export const EXIT_FAILED = 2;

const USAGE = `usage:
  snapdump backup SOURCE -f FILE|- [-l LEVEL] [-b BLOCKING] [--label TEXT] [--name NAME] [--state DIR]
                  [--no-update] [--base-date TOKEN] [--ignore-ctime] [--inode-map] [--exclude LIST ...] [--junctions symlink|dir]
                  [--no-history] [--sync] [--threads N] [--json] [--quiet] [--snapshot PATH | --require-snapshot | --no-snapshot]
  snapdump backup --restart ID [--state DIR] [--threads N] [--json] [--quiet]
  snapdump list -f FILE|- [-f FILE ...] [--json]
  snapdump restore -f FILE|- [-f FILE ...] -C DEST [PATH ...] [NEW=OLD ...] [--force] [--dry-run] [--json] [--quiet]
  snapdump restore --finish -C DEST
  snapdump verify -f FILE [-f FILE ...] -C DIR [--microseconds] [--birth-time] [--json] [--quiet]
  snapdump history [--state DIR] [--json]
  snapdump snapshots [list|prune] [--state DIR] [--json]
  snapdump contexts [list | show ID | delete ID | prune] [--state DIR] [--json]
  snapdump ndmpd [--listen HOST:PORT] [--config FILE] [--volume NAME=PATH ...] [--tape NAME=FILE ...]
                 [--tape-capacity NAME=SIZE ...]
                 [--user NAME:PASSWORD ...] [--state DIR] [--allow-none-auth] [--max-sessions N] [--override-vetoes] [--quiet]
  snapdump vtape-export -f TAPE [--tape-file N] [-o FILE|-]
  snapdump --help | --version

exit status: 0 success; 1 finished but some entries were skipped (each named on stderr);
2 nothing usable was produced (error printed with its code)`;

function writeLine(fd: number, text: string): void {
  writeAllSync(fd, text + '\n');
}

function parseInteger(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^-?\d+$/.test(text)) throw new UsageError(`${what} must be an integer, not "${text}"`);
  return Number(text);
}

async function backupCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true, strict: true,
    options: {
      file: { type: 'string', short: 'f' },
      level: { type: 'string', short: 'l' },
      blocking: { type: 'string', short: 'b' },
      label: { type: 'string', short: 'L' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
      threads: { type: 'string' },
      sync: { type: 'boolean' },
      name: { type: 'string' },
      state: { type: 'string' },
      'no-update': { type: 'boolean' },
      'base-date': { type: 'string' },
      'ignore-ctime': { type: 'boolean' },
      'inode-map': { type: 'boolean' },
      snapshot: { type: 'string' },
      'require-snapshot': { type: 'boolean' },
      'no-snapshot': { type: 'boolean' },
      exclude: { type: 'string', multiple: true },
      junctions: { type: 'string' },
      history: { type: 'boolean' },
      'no-history': { type: 'boolean' },
      restart: { type: 'string' },
    },
  });
  const restart = values.restart;
  if (restart !== undefined) {
    const conflicting = ['file', 'level', 'blocking', 'label', 'name', 'no-update', 'base-date', 'ignore-ctime', 'history', 'no-history', 'sync', 'inode-map', 'snapshot', 'require-snapshot', 'no-snapshot', 'exclude', 'junctions'].filter((k) => values[k as keyof typeof values] !== undefined);
    if (positionals.length || conflicting.length) throw new UsageError(`backup --restart ID takes no SOURCE and no ${conflicting.length ? `--${conflicting[0]}` : 'other option than --state, --threads, --json, --quiet'}: the context holds them`);
  } else {
    if (values['no-snapshot'] && (values.snapshot !== undefined || values['require-snapshot'])) {
      throw new UsageError('--no-snapshot cannot be combined with --snapshot or --require-snapshot');
    }
    if (values.snapshot === '') throw new UsageError('--snapshot needs a path');
    if (positionals.length !== 1) throw new UsageError('backup needs exactly one SOURCE directory');
    if (!values.file) throw new UsageError('backup needs -f FILE (or -f - for standard output)');
  }
  const output = values.file ?? '';
  // Events go to stdout unless the image does.
  const eventFd = output === '-' ? 2 : 1;
  const warn = (t: string) => writeLine(2, `snapdump: ${t}`);
  const reporter: Reporter = values.json ? jsonReporter((l) => writeLine(eventFd, l))
    : !values.quiet && process.stderr.isTTY ? ttyReporter(process.stderr, warn)
      : plainReporter(warn, values.quiet ?? false);
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const summary = restart !== undefined ? await restartBackup({
      id: restart, stateDir: values.state, threads: parseInteger(values.threads, 'threads'),
      signal: controller.signal, onEvent: (e) => reporter.event(e),
    }) : await backup({
      source: positionals[0]!, output, history: values['no-history'] ? false : values.history,
      level: parseInteger(values.level, 'level'),
      blockingFactor: parseInteger(values.blocking, 'blocking factor'),
      label: values.label, threads: parseInteger(values.threads, 'threads'), sync: values.sync,
      name: values.name, stateDir: values.state, update: !values['no-update'],
      baseDate: parseInteger(values['base-date'], 'base date token'), ignoreCtime: values['ignore-ctime'],
      inodeMap: values['inode-map'],
      snapshot: values['no-snapshot'] ? 'off' : values['require-snapshot'] ? 'require' : 'auto',
      snapshotPath: values.snapshot, onSnapshotReady: pauseAfterSnapshotHook(),
      // Each --exclude is an ONTAP EXCLUDE list: comma-separated, "\," for a comma in a name.
      exclude: (values.exclude ?? []).flatMap(splitExcludeList),
      junctions: values.junctions as 'symlink' | 'dir' | undefined,
      signal: controller.signal, onEvent: (e) => reporter.event(e),
    });
    reporter.finish();
    if (values.json) {
      writeLine(eventFd, JSON.stringify({ type: 'summary', ...summary, skipped: summary.skipped.length, warnings: summary.warnings.length }));
    } else if (!values.quiet) {
      const secs = summary.durationMs / 1000;
      const base = summary.base ? `changes since ${new Date(summary.base.date * 1000).toISOString()}${summary.base.level !== null ? ` (level ${summary.base.level})` : ''}` : 'everything';
      const from = summary.snapshot?.path ? ` from snapshot ${summary.snapshot.path}` : '';
      const what = summary.restartedAt
        ? `restarted level ${summary.level} backup of ${summary.filesys}${from} from inode ${summary.restartedAt.ino} (byte ${summary.restartedAt.offset}): ${summary.dataBytes} more bytes of data, image complete at ${summary.imageBytes} bytes in ${summary.output}`
        : `level ${summary.level} backup of ${summary.filesys}${from} (${base}): ${summary.files} files, ${summary.directories} directories${summary.excluded ? ` (${summary.excluded} entries excluded)` : ''}, ${summary.dataBytes} bytes of data, ${summary.imageBytes} bytes written to ${output}`;
      warn(`${what} in ${secs.toFixed(2)} s; dump date token ${summary.dumpDate}`);
    }
    if (summary.exitStatus !== 0) warn(`${summary.skipped.length} entries were skipped or changed; see above`);
    return summary.exitStatus;
  } finally {
    reporter.clear();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const json = rest.includes('--json');
  try {
    switch (command) {
      case 'backup': return await backupCommand(rest);
      case 'list': return await listCommand(rest);
      case 'restore': return await restoreCommand(rest);
      case 'verify': return await verifyCommand(rest);
      case 'history': return await historyCommand(rest);
      case 'snapshots': return await snapshotsCommand(rest);
      case 'contexts': return await contextsCommand(rest);
      case 'ndmpd': return await ndmpdCommand(rest);
      case 'vtape-export': return await vtapeExportCommand(rest);
      case '--version': case '-V': {
        const pkg = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
        writeLine(1, `snapdump ${pkg.version}`);
        return EXIT_OK;
      }
      case '--help': case '-h': case 'help':
        writeLine(1, USAGE);
        return EXIT_OK;
      default:
        throw new UsageError(command ? `unknown command "${command}"` : 'no command given');
    }
  } catch (e) {
    const err: SnapdumpError = isSnapdumpError(e) ? e
      : (e as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS') ? new UsageError((e as Error).message)
        : new SnapdumpError('ERR_INTERNAL', (e as Error).message ?? String(e));
    if (json) writeLine(2, JSON.stringify({ type: 'error', code: err.code, message: err.message, ...err.details }));
    else writeLine(2, `snapdump: error [${err.code}]: ${err.message}`);
    if (err.code === 'ERR_USAGE') writeLine(2, USAGE);
    if (err.code === 'ERR_INTERNAL' && process.env.SNAPDUMP_DEBUG) writeLine(2, String((e as Error).stack));
    return EXIT_FAILED;
  }
}
