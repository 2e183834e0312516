/**
 * Contexts on disk: `STATE/contexts/ID.json` (the record, replaced atomically), with
 * `ID.files` (phase IV's object list, see file-list.ts) and `ID.offsets` (the offset map, see
 * offset-map.ts) beside it. Files, so they survive process death and reboots.
 */
import * as crypto from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { SnapdumpError, isErrno } from '../errors.js';
import { isStale, selfInfo, withLock } from '../state/lock.js';
import { atomicWrite } from '../state/state-dir.js';
import { CONTEXT_VERSION, contextProblem, type BackupContext } from './context.js';

export const CONTEXTS_DIR = 'contexts';
const ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function contextsDir(stateDir: string): string {
  return path.join(stateDir, CONTEXTS_DIR);
}

export function contextFile(stateDir: string, id: string, ext: 'json' | 'files' | 'offsets'): string {
  if (!ID_PATTERN.test(id)) throw new SnapdumpError('ERR_CONTEXT', `"${id}" is not a context id (a UUID, see snapdump contexts)`, { id });
  return path.join(contextsDir(stateDir), `${id}.${ext}`);
}

/** A live process other than a stale one holds it. */
export function isBusy(ctx: BackupContext): boolean {
  return ctx.owner !== null && !isStale(ctx.owner, Date.now());
}

/** Busy is judged, not stored: a holder killed with -9 leaves `owner` set but is stale. */
export interface ContextView extends BackupContext { busy: boolean }

export function view(ctx: BackupContext): ContextView {
  const busy = isBusy(ctx);
  const status = ctx.status === 'running' && !busy ? 'interrupted' : ctx.status;
  return { ...ctx, status, busy };
}

export type NewContext = Omit<BackupContext, 'version' | 'id' | 'owner' | 'created' | 'lastUpdated' | 'cleanupPending' | 'restarts'>;

export async function createContext(stateDir: string, fields: NewContext): Promise<BackupContext> {
  await fsp.mkdir(contextsDir(stateDir), { recursive: true, mode: 0o755 });
  const now = new Date().toISOString();
  const ctx: BackupContext = {
    version: CONTEXT_VERSION, id: crypto.randomUUID(), ...fields, owner: selfInfo(), created: now, lastUpdated: now,
    cleanupPending: false, restarts: 0,
  };
  await writeContext(stateDir, ctx);
  return ctx;
}

/** `durable` false: a crash may bring back the previous version (see atomicWrite). */
export async function writeContext(stateDir: string, ctx: BackupContext, durable = true): Promise<void> {
  ctx.lastUpdated = new Date().toISOString();
  await atomicWrite(contextFile(stateDir, ctx.id, 'json'), JSON.stringify(ctx, null, 1) + '\n', 0o600, durable);
}

export async function readContext(stateDir: string, id: string): Promise<BackupContext> {
  const file = contextFile(stateDir, id, 'json');
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    if (isErrno(e, 'ENOENT')) throw new SnapdumpError('ERR_CONTEXT', `no backup context ${id} in ${contextsDir(stateDir)}`, { id, path: file });
    throw new SnapdumpError('ERR_STATE', `cannot read ${file}: ${(e as Error).message}`, { path: file }, { cause: e });
  }
  let parsed: unknown;
  try { parsed = JSON.parse(text); } catch { parsed = null; }
  const problem = contextProblem(parsed);
  if (problem) throw new SnapdumpError('ERR_STATE', `${file} is not a valid context: ${problem}`, { path: file, id });
  return parsed as BackupContext;
}

/** Every context, oldest first; unreadable files are reported, not fatal. */
export async function listContexts(stateDir: string): Promise<{ contexts: BackupContext[]; problems: string[] }> {
  let names: string[];
  try {
    names = await fsp.readdir(contextsDir(stateDir));
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return { contexts: [], problems: [] };
    throw new SnapdumpError('ERR_STATE', `cannot read ${contextsDir(stateDir)}: ${(e as Error).message}`, { path: contextsDir(stateDir) });
  }
  const contexts: BackupContext[] = [];
  const problems: string[] = [];
  for (const name of names) {
    const m = /^(.*)\.json$/.exec(name);
    if (!m || !ID_PATTERN.test(m[1]!)) continue;
    try { contexts.push(await readContext(stateDir, m[1]!)); } catch (e) { problems.push((e as Error).message); }
  }
  contexts.sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : 0));
  return { contexts, problems };
}

/**
 * Takes a context for this process, atomically with respect to other claimers: fails with
 * ERR_BUSY when a live process holds it. `check` may refuse (throw) after the claim is sure.
 */
export async function claimContext(stateDir: string, id: string, check: (ctx: BackupContext) => void = () => undefined): Promise<BackupContext> {
  await readContext(stateDir, id); // an unknown id is an error before any lock is made
  return withLock(stateDir, `context-${id}`, async () => {
    const ctx = await readContext(stateDir, id);
    if (isBusy(ctx)) {
      throw new SnapdumpError('ERR_BUSY', `context ${id} is busy: process ${ctx.owner!.pid} on ${ctx.owner!.host} is running it`, { id, pid: ctx.owner!.pid });
    }
    check(ctx);
    ctx.owner = selfInfo();
    await writeContext(stateDir, ctx);
    return ctx;
  });
}

/** Removes the context's files (the record last, so a crash in between leaves it listed). */
export async function removeContextFiles(stateDir: string, id: string): Promise<void> {
  await Promise.all((['files', 'offsets'] as const).map((ext) => fsp.rm(contextFile(stateDir, id, ext), { force: true })));
  await fsp.rm(contextFile(stateDir, id, 'json'), { force: true });
}
