/**
 * Phase III: the volume label, the two inode maps, then every dumped directory in ascending
 * inode order (root first), each followed by its EA records.
 */
import { RecordType } from '../format/constants.js';
import { encodeDirectory } from '../format/directory.js';
import { mapSizeFor } from '../format/bitmap.js';
import { mapRecord, objectChunk, padToBlocks, volumeLabel, type TapeChunk } from '../format/object-headers.js';
import { type VolumeInfo } from '../format/volume.js';
import { Col } from '../workers/read-protocol.js';
import { directoryEntries, displayPath, inodeFields, type DumpPlan, type Notice } from './traverse.js';
import { xattrRecords } from './xattr-emit.js';

/** Directory data at or beyond 256 MiB triggers Linux restore's "quad swap" heuristic (§1.6). */
const MAX_DIRECTORY_BYTES = 0x0fffffff;

export function* volumeHead(plan: DumpPlan, vol: VolumeInfo): Generator<TapeChunk> {
  const mapBytes = mapSizeFor(vol.maxino);
  yield volumeLabel(vol);
  yield mapRecord(vol, RecordType.CLRI, plan.inUse.toBuffer(mapBytes), 0);
  yield mapRecord(vol, RecordType.BITS, plan.dumped.toBuffer(mapBytes), plan.table.get(plan.root, Col.ino));
}

export function* directoryEmit(plan: DumpPlan, vol: VolumeInfo, onNotice: (n: Notice) => void): Generator<TapeChunk> {
  const t = plan.table;
  for (const dir of plan.directories) {
    const ino = t.get(dir, Col.ino);
    const data = encodeDirectory(directoryEntries(t, dir));
    if (data.length > MAX_DIRECTORY_BYTES) {
      onNotice({ code: 'DIR_TOO_LARGE', path: displayPath(t.path(dir)), message: 'directory listing of 256 MiB or more: Linux restore misreads it', skipped: false });
    }
    const inode = { ...inodeFields(t, dir), size: data.length };
    // Directory data is a whole number of 512-byte chunks; pad to the last 1 KiB block.
    const padded = padToBlocks(data);
    yield objectChunk(vol, ino, inode, padded.length / 1024, padded, null);
    const ea = xattrRecords(vol, ino, inode, t.xattrs.get(dir) ?? []);
    for (const note of ea.notes) onNotice({ code: 'XATTR', path: displayPath(t.path(dir)), message: note, skipped: false });
    if (ea.chunk) yield ea.chunk;
  }
}
