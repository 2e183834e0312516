/**
 * The command line: a thin layer over the library API. Parses arguments, renders events,
 * and maps outcomes to the documented exit statuses (0 ok, 1 partial, 2 failed). Each command's
 * module is loaded only when it runs: Node compiles every module it loads at start-up, and a
 * backup need not pay for the restore, the NDMP server or the verifier.
 */
import * as fs from 'node:fs';
import { SnapdumpError, UsageError, isSnapdumpError } from '../errors.js';
import { writeAllSync } from './output.js';

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

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const json = rest.includes('--json');
  try {
    switch (command) {
      case 'backup': return await (await import('./backup-command.js')).backupCommand(rest);
      case 'list': return await (await import('./list-command.js')).listCommand(rest);
      case 'restore': return await (await import('./restore-command.js')).restoreCommand(rest);
      case 'verify': return await (await import('./verify-command.js')).verifyCommand(rest);
      case 'history': return await (await import('./history-command.js')).historyCommand(rest);
      case 'snapshots': return await (await import('./snapshots-command.js')).snapshotsCommand(rest);
      case 'contexts': return await (await import('./contexts-command.js')).contextsCommand(rest);
      case 'ndmpd': return await (await import('./ndmpd-command.js')).ndmpdCommand(rest);
      case 'vtape-export': return await (await import('./vtape-command.js')).vtapeExportCommand(rest);
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
