/**
 * Deleting contexts: `snapdump contexts delete ID`, and the pruning every backup does first of
 * contexts nobody can restart (their process died before the file phase). The context is marked
 * "cleanup pending" before anything is removed, so a delete that cannot finish (a snapshot that
 * will not go) is visible and completed by a later delete or prune.
 */
import * as fsp from 'node:fs/promises';
import { SnapdumpError } from '../errors.js';
import { restartBlocker, type BackupContext } from './context.js';
import { isBusy, listContexts, readContext, removeContextFiles, writeContext } from './context-store.js';

/** Releases a snapshot a context held (set by the snapshot module; none by default). */
export type SnapshotReleaser = (ctx: BackupContext) => Promise<void>;

export interface DeleteResult {
  id: string;
  removed: boolean;
  /** Why it stays (cleanup pending), when it does. */
  problem: string | null;
}

export async function deleteContext(stateDir: string, id: string, releaseSnapshot?: SnapshotReleaser): Promise<DeleteResult> {
  const ctx = await readContext(stateDir, id);
  if (isBusy(ctx)) {
    throw new SnapdumpError('ERR_BUSY', `context ${id} is busy: process ${ctx.owner!.pid} on ${ctx.owner!.host} is running it; stop that backup first`, { id, pid: ctx.owner!.pid });
  }
  return cleanUp(stateDir, ctx, releaseSnapshot);
}

async function cleanUp(stateDir: string, ctx: BackupContext, releaseSnapshot?: SnapshotReleaser): Promise<DeleteResult> {
  if (!ctx.cleanupPending) {
    ctx.cleanupPending = true;
    ctx.owner = null;
    await writeContext(stateDir, ctx);
  }
  try {
    if (ctx.partial) await fsp.rm(ctx.partial, { force: true });
    if (ctx.snapshot?.autoCreated && releaseSnapshot) await releaseSnapshot(ctx);
  } catch (e) {
    ctx.state = `cleanup pending: ${(e as Error).message}`;
    await writeContext(stateDir, ctx).catch(() => undefined);
    return { id: ctx.id, removed: false, problem: (e as Error).message };
  }
  await removeContextFiles(stateDir, ctx.id);
  return { id: ctx.id, removed: true, problem: null };
}

/**
 * Removes what no one can use: contexts of dead processes that are not restartable, and those
 * left with cleanup pending. Restartable contexts stay until restarted or deleted.
 */
export async function pruneContexts(stateDir: string, releaseSnapshot?: SnapshotReleaser): Promise<DeleteResult[]> {
  const { contexts } = await listContexts(stateDir);
  const out: DeleteResult[] = [];
  for (const ctx of contexts) {
    if (isBusy(ctx)) continue;
    if (!ctx.cleanupPending && restartBlocker(ctx) === null) continue;
    out.push(await cleanUp(stateDir, ctx, releaseSnapshot));
  }
  return out;
}
