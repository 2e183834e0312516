/** `snapdump backup`: a new backup, or a restart of an interrupted one (--restart ID). */
import { parseArgs } from 'node:util';
import { backup } from '../backup.js';
import { UsageError } from '../errors.js';
import { jsonReporter, plainReporter, ttyReporter, type Reporter } from './progress.js';
import { writeAllSync } from './output.js';
import { pauseAfterSnapshotHook } from '../snapshot/test-hook.js';
import { splitExcludeList } from '../select/exclude.js';

function writeLine(fd: number, text: string): void {
  writeAllSync(fd, text + '\n');
}

export function parseInteger(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^-?\d+$/.test(text)) throw new UsageError(`${what} must be an integer, not "${text}"`);
  return Number(text);
}

export async function backupCommand(args: string[]): Promise<number> {
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
    const summary = restart !== undefined ? await (await import('../restart.js')).restartBackup({
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

