/**
 * `snapdump restore -f FILE|- [-f FILE...] -C DEST [PATH ...] [NEW=OLD ...] [--force] [--dry-run] [--json] [--quiet]`,
 * `snapdump restore --finish -C DEST` (removes the chain state of DEST):
 * a thin layer over restore(). Errors are thrown (main() prints them with their code, exit 2);
 * the return value is the exit status (0 everything restored, 1 something named on stderr was not).
 */
import { parseArgs } from 'node:util';
import type { BackupEvent } from '../backup.js';
import { UsageError } from '../errors.js';
import { STATE_FILE, parseOperands, removeState, restore } from '../restore/index.js';
import type { RestoreEvent } from '../restore/types.js';
import { formatBytes, jsonReporter, plainReporter, ttyReporter, type Reporter } from './progress.js';

/**
 * Lines go through the process streams, not fs.writeSync: a restore can report thousands of
 * names, and once Node has made a stdio pipe non-blocking a direct write fails with EAGAIN when
 * the reader is slower. Stdio pipes and files are written synchronously on Linux.
 */
function writeLine(stream: NodeJS.WriteStream, text: string): void {
  stream.write(text + '\n');
}

/** A reader that went away (`| head`) just ends the output. */
function ignoreEpipe(stream: NodeJS.WriteStream): () => void {
  const onError = (e: NodeJS.ErrnoException) => { if (e.code !== 'EPIPE') throw e; };
  stream.on('error', onError);
  return () => stream.off('error', onError);
}

export async function restoreCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true, strict: true,
    options: {
      file: { type: 'string', short: 'f', multiple: true },
      directory: { type: 'string', short: 'C' },
      force: { type: 'boolean' },
      'dry-run': { type: 'boolean', short: 'n' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
      finish: { type: 'boolean' },
    },
  });
  if (values.finish) {
    // The end of a chain: the restore state of DEST goes; nothing is read or restored.
    if (!values.directory) throw new UsageError('restore --finish needs -C DEST, the directory the chain was restored into');
    if (values.file?.length || positionals.length) throw new UsageError('restore --finish takes only -C DEST (it removes the restore state; it reads no image)');
    const had = removeState(values.directory);
    if (!values.quiet) writeLine(process.stderr, `snapdump: ${had ? `removed ${STATE_FILE} from ${values.directory}; an incremental can no longer be applied there` : `no restore state in ${values.directory}`}`);
    return 0;
  }
  if (!values.file?.length) throw new UsageError('restore needs -f FILE (or -f - for standard input); give every volume of a set, in order');
  if (!values.directory) throw new UsageError('restore needs -C DEST, the directory to restore into');
  const { paths, renames } = parseOperands(positionals);
  const dryRun = values['dry-run'] ?? false;
  const quiet = values.quiet ?? false;
  const warn = (t: string) => writeLine(process.stderr, `snapdump: ${t}`);
  const reporter: Reporter = values.json ? jsonReporter((l) => writeLine(process.stdout, l))
    : !quiet && process.stderr.isTTY ? ttyReporter(process.stderr, warn)
      : plainReporter(warn, quiet);
  const onEvent = (e: RestoreEvent): void => {
    if (values.json) { reporter.event(e as unknown as BackupEvent); return; }
    if (e.type === 'damage') {
      reporter.clear();
      warn(`damage [${e.code}] at byte ${e.offset}: ${e.message}`);
    } else if (e.type === 'entry') {
      writeLine(process.stdout, `${e.action === 'create' ? 'create' : 'link  '} ${e.kind.padEnd(7)} ${e.path}`);
    } else {
      // Progress and warnings render as backup's do (the phase names differ).
      reporter.event(e as unknown as BackupEvent);
    }
  };
  const unhookOut = ignoreEpipe(process.stdout);
  const unhookErr = ignoreEpipe(process.stderr);
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const summary = await restore({
      files: values.file, dest: values.directory, paths, renames, force: values.force ?? false, dryRun,
      signal: controller.signal, onEvent,
    });
    reporter.finish();
    if (values.json) {
      writeLine(process.stdout, JSON.stringify({
        type: 'summary', ...summary, skipped: summary.skipped.length, warnings: summary.warnings.length, damage: summary.damage.length,
      }));
    } else if (!quiet) {
      const secs = (summary.durationMs / 1000).toFixed(2);
      const what = `${summary.files} files (${formatBytes(summary.dataBytes)}), ${summary.directories} directories, ${summary.links} further hard links`;
      warn(dryRun ? `dry run: would restore ${what} into ${summary.dest}; nothing was written`
        : `restored ${what} into ${summary.dest} in ${secs} s`);
    }
    if (summary.stopped) warn(`stopped early: ${summary.stopped.message}`);
    if (summary.exitStatus !== 0) {
      const parts: string[] = [];
      if (summary.skipped.length) parts.push(`${summary.skipped.length} entries were not restored`);
      const d = summary.damage.length;
      if (d) parts.push(`the image is damaged in ${d} place${d === 1 ? '' : 's'}`);
      warn(`${parts.join('; ')}; see above`);
    }
    return summary.exitStatus;
  } finally {
    reporter.clear();
    unhookOut();
    unhookErr();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
