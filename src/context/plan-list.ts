/**
 * Between a backup's plan and its context: the list phase IV saves, how a restart finds those
 * objects again in a fresh walk, and the placeholders that stand in for objects gone since.
 */
import { RecordType, S_IFLNK, S_IFMT, S_IFREG } from '../format/constants.js';
import type { InodeFields } from '../format/header.js';
import { objectChunk, padToBlocks, type TapeChunk } from '../format/object-headers.js';
import type { VolumeInfo } from '../format/volume.js';
import { XCol } from '../stages/entry-table.js';
import type { DumpPlan } from '../stages/traverse.js';
import { Col } from '../workers/read-protocol.js';
import type { FileListEntry } from './file-list.js';

export function filePhaseList(plan: DumpPlan): FileListEntry[] {
  const t = plan.table;
  return Array.from(plan.others, (id) => ({ ino: t.get(id, Col.ino), srcIno: t.get(id, XCol.srcIno), type: t.get(id, Col.mode) & S_IFMT }));
}

/** Table ids by source inode number (every walked object, dumped or not). */
export function idsBySourceInode(plan: DumpPlan): Map<number, number> {
  const t = plan.table;
  const out = new Map<number, number>();
  for (let id = 0; id < t.count; id++) {
    const src = t.get(id, XCol.srcIno);
    if (!Number.isNaN(src)) out.set(src, id);
  }
  return out;
}

/** Target of a placeholder symbolic link: relative, so it can never lead anywhere outside. */
export const PLACEHOLDER_TARGET = 'snapdump-placeholder-vanished';

/**
 * An empty object of the recorded type (mode 0 permissions, owned by root, dated now) for an
 * object that vanished or changed type between the interruption and the restart: the image
 * stays valid for both restores and the restore shows what it is.
 */
export function placeholderChunk(vol: VolumeInfo, entry: FileListEntry, now: number): TapeChunk<Buffer> {
  const isLink = entry.type === S_IFLNK;
  const data = isLink ? padToBlocks(Buffer.from(PLACEHOLDER_TARGET)) : Buffer.alloc(0);
  const inode: InodeFields = {
    mode: (entry.type || S_IFREG) | (isLink ? 0o777 : 0), nlink: 1, size: isLink ? PLACEHOLDER_TARGET.length : 0,
    atime: now, atimeUsec: 0, mtime: now, mtimeUsec: 0, ctime: now, ctimeUsec: 0, rdev: 0, flags: 0, blocks: 0, uid: 0, gid: 0,
  };
  return objectChunk(vol, entry.ino, inode, isLink ? 1 : 0, data, null, { firstType: RecordType.INODE });
}
