/**
 * The record of every snapshot this engine made, `STATE/snapshots/<id>.json`, so that a later
 * run can find and remove the ones whose backup died (kill -9, power loss) and list them.
 *
 * A record is published before its snapshot exists (so a crash can never leave an unrecorded
 * snapshot) and names its owner by pid, host, boot id and process start time: the same test of
 * liveness as the state lock. Claiming uses link() of a fully written temp file, so a record is
 * never seen half-written and two claimants of one snapshot path cannot both win. Only the
 * owner rewrites a live record; only a pruner (under the `snapshots` lock) touches a dead one.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { SnapdumpError, isErrno } from '../errors.js';
import { isStale, bootId, processStart, type LockInfo } from '../state/lock.js';
import { atomicWrite, openStateDir, syncPath } from '../state/state-dir.js';

export const RECORDS_DIR = 'snapshots';

export interface SnapshotOwner {
  pid: number;
  host: string;
  bootId: string | null;
  start: string | null;
}

export interface SnapshotRecord {
  version: 1;
  /** File name stem of the record. */
  id: string;
  provider: 'btrfs';
  /** The snapshot (a read-only subvolume). */
  path: string;
  name: string;
  /** The subvolume it is a snapshot of, and that subvolume's UUID (how a pruner recognises it). */
  subvolume: string;
  subvolumeUuid: string | null;
  /** The path being backed up (SOURCE). */
  source: string;
  owner: SnapshotOwner;
  created: string;
  /** 'claimed': the record exists, the snapshot may not yet; 'ready': the snapshot exists. */
  state: 'claimed' | 'ready';
  uuid: string | null;
  /** Set when a context (a restartable backup) keeps the snapshot beyond its backup. */
  keep: { since: string; reason: string } | null;
}

export type RecordStatus = 'live' | 'kept' | 'orphan' | 'foreign';

export function currentOwner(): SnapshotOwner {
  return { pid: process.pid, host: os.hostname(), bootId, start: processStart('self') };
}

export function recordsDir(stateDir: string): string {
  return path.join(stateDir, RECORDS_DIR);
}

export function recordId(name: string, snapshotPath: string): string {
  return `${name}-${crypto.createHash('sha256').update(snapshotPath).digest('hex').slice(0, 12)}`;
}

function recordFile(stateDir: string, id: string): string {
  return path.join(recordsDir(stateDir), `${id}.json`);
}

/** Whether anyone still holds the snapshot: its live owner, a keeping context, or another host. */
export function recordStatus(r: SnapshotRecord): RecordStatus {
  if (r.keep) return 'kept';
  if (r.owner.host !== os.hostname()) return 'foreign';
  const info: LockInfo = { ...r.owner, acquired: r.created, token: '' };
  return isStale(info, 0) ? 'orphan' : 'live';
}

export async function openRecordsDir(stateDir: string): Promise<string> {
  await openStateDir(stateDir, { create: true });
  const dir = recordsDir(stateDir);
  try {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new SnapdumpError('ERR_STATE', `cannot create ${dir}: ${(e as Error).message}`, { path: dir }, { cause: e });
  }
  return dir;
}

/** Publishes `r` if no record of that id exists. False when one does (someone else's). */
export async function claimRecord(stateDir: string, r: SnapshotRecord): Promise<boolean> {
  const file = recordFile(stateDir, r.id);
  const temp = `${file}.${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  try {
    const fh = await fsp.open(temp, 'wx', 0o600);
    try {
      await fh.writeFile(JSON.stringify(r, null, 1) + '\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await fsp.link(temp, file);
    } catch (e) {
      if (isErrno(e, 'EEXIST')) return false;
      throw e;
    }
    await syncPath(path.dirname(file));
    return true;
  } catch (e) {
    throw new SnapdumpError('ERR_STATE', `cannot write the snapshot record ${file}: ${(e as Error).message}`, { path: file }, { cause: e });
  } finally {
    await fsp.rm(temp, { force: true });
  }
}

export async function updateRecord(stateDir: string, r: SnapshotRecord): Promise<void> {
  await atomicWrite(recordFile(stateDir, r.id), JSON.stringify(r, null, 1) + '\n', 0o600);
}

export async function removeRecord(stateDir: string, id: string): Promise<void> {
  await fsp.rm(recordFile(stateDir, id), { force: true });
}

export function parseRecord(text: string): SnapshotRecord | null {
  try {
    const r = JSON.parse(text) as SnapshotRecord;
    if (r.version !== 1 || typeof r.id !== 'string' || typeof r.path !== 'string' || typeof r.owner?.pid !== 'number' || typeof r.owner.host !== 'string') return null;
    return r;
  } catch {
    return null;
  }
}

export interface ListedRecord {
  file: string;
  record: SnapshotRecord | null;
}

/** Every record (null record: unreadable), in name order. A missing directory is no records. */
export function listRecords(stateDir: string): ListedRecord[] {
  const dir = recordsDir(stateDir);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return [];
    throw new SnapdumpError('ERR_STATE', `cannot read ${dir}: ${(e as Error).message}`, { path: dir }, { cause: e });
  }
  return names.filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort().map((n) => {
    const file = path.join(dir, n);
    let text: string | null = null;
    try { text = fs.readFileSync(file, 'utf8'); } catch { /* removed meanwhile */ }
    return { file, record: text === null ? null : parseRecord(text) };
  }).filter((x) => fs.existsSync(x.file));
}
