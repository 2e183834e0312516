/**
 * The btrfs provider: a read-only snapshot of the subvolume holding SOURCE, at
 * `SUBVOLUME/.snapdump-snapshots/snapshot_for_backup.N`. N starts at 0 in each process and
 * grows by one per snapshot; a name another process (or a leftover) holds is skipped. The
 * snapshot is recorded in the state directory before it is made and deleted at release.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { SnapdumpError, isErrno, isSnapdumpError } from '../errors.js';
import { withLock } from '../state/state-dir.js';
import type { Notice } from '../stages/traverse.js';
import { BtrfsError, btrfsTool, createReadOnlySnapshot, deleteSubvolume, isBtrfs, subvolumeInfo, subvolumeRootOf } from './btrfs.js';
import { SNAPSHOTS_LOCK, pruneLocked } from './prune.js';
import { claimRecord, currentOwner, openRecordsDir, recordId, removeRecord, updateRecord, type SnapshotRecord } from './records.js';
import {
  SNAPSHOT_DIR, SNAPSHOT_PREFIX, SnapshotUnavailable, liveTree, snapshotDirExclusion,
  type OpenedSnapshot, type SnapshotProvider, type SnapshotRequest,
} from './provider.js';

/** The next N to try in this process. */
let nextIndex = 0;
const MAX_TRIES = 10_000;

function snapshotError(reason: string, message: string, details: Record<string, unknown>, cause?: unknown): SnapdumpError {
  return new SnapdumpError('ERR_SNAPSHOT', message, { reason, ...details }, { cause });
}

/** A btrfs failure: no permission means "cannot snapshot here", anything else is an error. */
function btrfsFailure(e: unknown, what: string, details: Record<string, unknown>): Error {
  if (e instanceof BtrfsError && e.reason === 'PERMISSION') return new SnapshotUnavailable('PERMISSION', `${what}: ${e.message}`);
  if (e instanceof BtrfsError && e.reason === 'NO_TOOL') return new SnapshotUnavailable('NO_TOOL', e.message);
  if (e instanceof BtrfsError && e.reason === 'READ_ONLY') return new SnapshotUnavailable('READ_ONLY', `${what}: ${e.message}`);
  const reason = e instanceof BtrfsError ? e.reason : 'FAILED';
  return snapshotError(reason, `${what}: ${(e as Error).message}`, details, e);
}

async function makeSnapshotDir(root: string): Promise<string> {
  const dir = path.join(root, SNAPSHOT_DIR);
  try {
    await fsp.mkdir(dir, { mode: 0o700 });
  } catch (e) {
    if (isErrno(e, 'EEXIST') && fs.lstatSync(dir).isDirectory()) return dir;
    if (isErrno(e, 'EACCES', 'EPERM')) throw new SnapshotUnavailable('PERMISSION', `cannot create ${dir}: ${(e as Error).message}`);
    // A read-only mount: its subvolume may still change through another, writable mount.
    if (isErrno(e, 'EROFS')) throw new SnapshotUnavailable('READ_ONLY', `cannot create ${dir}: ${(e as Error).message}`);
    const reason = isErrno(e, 'ENOSPC', 'EDQUOT') ? 'NO_SPACE' : 'FAILED';
    throw snapshotError(reason, `cannot create ${dir}: ${(e as Error).message}`, { path: dir }, e);
  }
  return dir;
}

/** Prunes orphans, then claims the first free name from this process's next N. */
async function claimName(req: SnapshotRequest, root: string, dir: string, subvolumeUuid: string | null, notices: Notice[]): Promise<SnapshotRecord> {
  return withLock(req.stateDir, SNAPSHOTS_LOCK, async () => {
    for (const p of await pruneLocked(req.stateDir)) {
      notices.push({ code: 'SNAPSHOT_PRUNED', path: p.path, message: p.message, skipped: false });
    }
    for (let n = nextIndex, tries = 0; tries < MAX_TRIES; n++, tries++) {
      const name = `${SNAPSHOT_PREFIX}${n}`;
      const snapPath = path.join(dir, name);
      if (fs.existsSync(snapPath)) continue;
      const record: SnapshotRecord = {
        version: 1, id: recordId(name, snapPath), provider: 'btrfs', path: snapPath, name, subvolume: root, subvolumeUuid,
        source: req.source, owner: currentOwner(), created: new Date().toISOString(), state: 'claimed', uuid: null, keep: null,
      };
      if (await claimRecord(req.stateDir, record)) {
        nextIndex = n + 1;
        return record;
      }
    }
    throw snapshotError('FAILED', `no free snapshot name in ${dir} after ${MAX_TRIES} tries`, { path: dir });
  });
}

export const btrfsProvider: SnapshotProvider = {
  kind: 'btrfs',
  async open(req: SnapshotRequest): Promise<OpenedSnapshot> {
    const abs = req.source;
    if (!isBtrfs(abs)) throw new SnapshotUnavailable('NOT_SUPPORTED', `${abs} is not on a file system this engine can snapshot (btrfs)`);
    const root = subvolumeRootOf(abs);
    if (root === null) throw new SnapshotUnavailable('NOT_SUBVOLUME', `the btrfs subvolume holding ${abs} is not visible here (is it a bind mount of a directory?)`);
    if (btrfsTool() === null) throw new SnapshotUnavailable('NO_TOOL', 'the btrfs command (btrfs-progs) is not installed');
    let subvolume;
    try {
      subvolume = await subvolumeInfo(root);
    } catch (e) {
      // btrfs-progs needs root to describe a subvolume; deleting a snapshot needs it too.
      throw btrfsFailure(e, `cannot read subvolume ${root} (btrfs snapshots need root)`, { path: root });
    }
    // A read-only subvolume (a snapshot itself) cannot change: read it as it is.
    if (subvolume.readOnly) return liveTree(abs, true);
    const subvolumeUuid = subvolume.uuid;
    try {
      await openRecordsDir(req.stateDir);
    } catch (e) {
      throw new SnapshotUnavailable('STATE', `snapshots are recorded in the state directory, which cannot be used: ${(e as Error).message}`);
    }
    const dir = await makeSnapshotDir(root);
    const notices: Notice[] = [];
    const record = await claimName(req, root, dir, subvolumeUuid, notices);
    try {
      await createReadOnlySnapshot(root, record.path);
    } catch (e) {
      await removeRecord(req.stateDir, record.id).catch(() => undefined);
      throw btrfsFailure(e, `cannot snapshot ${root}`, { path: root, snapshot: record.path });
    }
    try {
      record.uuid = (await subvolumeInfo(record.path)).uuid;
      record.state = 'ready';
      await updateRecord(req.stateDir, record);
    } catch (e) {
      // Without its record, the snapshot could leak: take it back down and stop here.
      await deleteSubvolume(record.path).then(() => removeRecord(req.stateDir, record.id)).catch(() => undefined);
      if (isSnapdumpError(e)) throw snapshotError('STATE', `cannot record snapshot ${record.path}: ${e.message}`, { path: record.path }, e);
      throw btrfsFailure(e, `cannot read the new snapshot ${record.path}`, { path: record.path });
    }
    const readPath = path.join(record.path, path.relative(root, abs));
    return {
      info: { provider: 'btrfs', path: record.path, name: record.name, volume: root, readPath, consistent: true, recordId: record.id },
      exclude: readPath === record.path ? snapshotDirExclusion(record.path) : [],
      notices,
      async release(keep) {
        if (keep) {
          record.keep = { since: new Date().toISOString(), reason: 'kept by the backup\'s keepSnapshot decision' };
          await updateRecord(req.stateDir, record);
          return 'kept';
        }
        await deleteSubvolume(record.path);
        await removeRecord(req.stateDir, record.id);
        return 'deleted';
      },
    };
  },
};
