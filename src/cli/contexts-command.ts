/**
 * `snapdump contexts [list | show ID | delete ID | prune] [--state DIR] [--json]`: the backup
 * contexts of the state directory (restartable backups and cleanups still pending).
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import { RESTART_PASS, restartBlocker } from '../context/context.js';
import { listContexts, readContext, view, type ContextView } from '../context/context-store.js';
import { deleteContext, pruneContexts, type DeleteResult } from '../context/cleanup.js';
import { defaultStateDir } from '../state/state-dir.js';
import { releaseSnapshotOf } from '../backup.js';
import { writeAllSync } from './output.js';

const out = (t: string) => writeAllSync(1, t + '\n');

/** Every field, one per line, in the order ONTAP's `snap_dump context show` lists them. */
export function formatContext(c: ContextView): string {
  const blocker = restartBlocker(c);
  const rows: Array<[string, unknown]> = [
    ['Context Identifier', c.id], ['Dump Name', c.dumpName], ['Dump Path', c.path], ['Walk Root', c.walkRoot],
    ['Level', c.level], ['Engine Type', c.engine],
    ['Snapshot Name', c.snapshot?.name ?? '-'], ['Snapshot Path', c.snapshot?.path ?? '-'], ['Snapshot Auto-created', c.snapshot ? c.snapshot.autoCreated : '-'],
    ['Output', c.output], ['Partial Image', c.partial ?? (c.medium ? `${c.medium.path}, tape file ${c.medium.tapeFile} (${c.medium.recordSize}-byte records)` : '-')],
    ['Offset Map', c.offsetMap], ['Offset Verify', c.offsetVerify],
    ['Is Restartable', blocker === null], ['Not Restartable Because', blocker ?? '-'],
    ['Is Busy', c.busy], ['Restart Pass', `${RESTART_PASS[c.phase]} (${c.phase})`],
    ['Checkpoint', c.checkpoint ? `inode ${c.checkpoint.ino} at byte ${c.checkpoint.offset} (${c.checkpoint.at})` : '-'],
    ['Status', c.status], ['State', c.state], ['Restarts', c.restarts], ['Created', c.created], ['Last Updated', c.lastUpdated],
    ['Cleanup Pending', c.cleanupPending],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${String(v)}`).join('\n');
}

function reportDeletes(results: DeleteResult[], json: boolean): number {
  let failed = 0;
  for (const r of results) {
    if (!r.removed) failed++;
    if (json) out(JSON.stringify({ type: 'delete', ...r }));
    else out(r.removed ? `deleted ${r.id}` : `${r.id}: cleanup pending (${r.problem}); run the delete again`);
  }
  return failed ? 1 : 0;
}

export async function contextsCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true, strict: true,
    options: { state: { type: 'string' }, json: { type: 'boolean' } },
  });
  const stateDir = values.state ?? defaultStateDir();
  const [sub = 'list', id, ...extra] = positionals;
  const json = values.json ?? false;
  const needId = () => { if (!id || extra.length) throw new UsageError(`contexts ${sub} needs exactly one context ID`); return id; };
  switch (sub) {
    case 'list': {
      if (id) throw new UsageError('contexts list takes no operand');
      const { contexts, problems } = await listContexts(stateDir);
      for (const p of problems) writeAllSync(2, `snapdump: warning: ${p}\n`);
      const views = contexts.map(view);
      if (json) { for (const c of views) out(JSON.stringify({ ...c, restartable: restartBlocker(c) === null, notRestartableBecause: restartBlocker(c) })); return 0; }
      if (views.length === 0) { out(`no backup contexts in ${stateDir}`); return 0; }
      out(`${'ID'.padEnd(36)}  ${'LEVEL'.padStart(5)}  PASS  RESTARTABLE  BUSY  CLEANUP  DUMP NAME`);
      for (const c of views) {
        out(`${c.id}  ${String(c.level).padStart(5)}  ${RESTART_PASS[c.phase].padEnd(4)}  ${(restartBlocker(c) === null ? 'yes' : 'no').padEnd(11)}  ${(c.busy ? 'yes' : 'no').padEnd(4)}  ${(c.cleanupPending ? 'pending' : '-').padEnd(7)}  ${c.dumpName}`);
      }
      return 0;
    }
    case 'show': {
      const c = view(await readContext(stateDir, needId()));
      out(json ? JSON.stringify({ ...c, restartable: restartBlocker(c) === null, notRestartableBecause: restartBlocker(c) }) : formatContext(c));
      return 0;
    }
    case 'delete': return reportDeletes([await deleteContext(stateDir, needId(), releaseSnapshotOf(stateDir))], json);
    case 'prune': {
      if (id) throw new UsageError('contexts prune takes no operand');
      return reportDeletes(await pruneContexts(stateDir, releaseSnapshotOf(stateDir)), json);
    }
    default: throw new UsageError(`unknown contexts subcommand "${sub}" (list, show, delete, prune)`);
  }
}
