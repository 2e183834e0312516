/**
 * `snapdump snapshots [list] [--state DIR] [--json]`: the snapshots this engine made and has not
 * yet deleted, with who holds them. `snapdump snapshots prune`: delete the orphans (their backup
 * died) now rather than at the next backup.
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import { defaultStateDir } from '../state/state-dir.js';
import { listRecords, pruneSnapshots, recordStatus } from '../snapshot/index.js';
import { writeAllSync } from './output.js';

function listSnapshots(stateDir: string, json: boolean): number {
  const rows = listRecords(stateDir).map(({ file, record }) => record === null
    ? { file, status: 'unreadable' as const }
    : { ...record, status: recordStatus(record), exists: fs.existsSync(record.path) });
  let out = '';
  for (const r of rows) {
    if (json) { out += JSON.stringify({ type: 'snapshot', ...r }) + '\n'; continue; }
    if (!('path' in r)) { out += `unreadable record ${r.file}\n`; continue; }
    const owner = `pid ${r.owner.pid} on ${r.owner.host}`;
    out += `${r.status.padEnd(7)} ${r.path}  (of ${r.source}, ${owner}, made ${r.created}${r.exists ? '' : ', missing'})\n`;
  }
  writeAllSync(1, out);
  return 0;
}

async function prune(stateDir: string, json: boolean): Promise<number> {
  const results = await pruneSnapshots(stateDir);
  let out = '';
  for (const r of results) out += json ? JSON.stringify({ type: 'pruned', ...r }) + '\n' : `${r.outcome}: ${r.path}: ${r.message}\n`;
  if (json) out += JSON.stringify({ type: 'summary', pruned: results.filter((r) => r.outcome !== 'failed').length, failed: results.filter((r) => r.outcome === 'failed').length }) + '\n';
  writeAllSync(1, out);
  return results.some((r) => r.outcome === 'failed') ? 1 : 0;
}

export async function snapshotsCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true, strict: true,
    options: { state: { type: 'string' }, json: { type: 'boolean' } },
  });
  const [action = 'list', ...extra] = positionals;
  if (extra.length) throw new UsageError(`snapshots ${action} takes no arguments, not "${extra[0]}"`);
  if (values.state === '') throw new UsageError('--state needs a directory');
  const stateDir = values.state ?? defaultStateDir();
  if (action === 'list') return listSnapshots(stateDir, values.json ?? false);
  if (action === 'prune') return prune(stateDir, values.json ?? false);
  throw new UsageError(`unknown snapshots action "${action}" (list or prune)`);
}
