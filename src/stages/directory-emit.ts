/**
 * Phase III: the volume label, the two inode maps, then every dumped directory in ascending
 * inode order (root first), each followed by its EA records.
 */
import { DT_DIR, RecordType, dtypeOfMode } from '../format/constants.js';
import { encodeDirectoryFrom, type DirectorySource } from '../format/directory.js';
import { mapSizeFor } from '../format/bitmap.js';
import { mapRecord, objectChunk, padToBlocks, volumeLabel, type TapeChunk } from '../format/object-headers.js';
import { type VolumeInfo } from '../format/volume.js';
import { Col } from '../workers/read-protocol.js';
import { displayPath, inodeFields, type DumpPlan, type Notice } from './traverse.js';
import { XCol, type EntryTable } from './entry-table.js';
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
    const data = encodeDirectoryFrom(directorySource(t, dir));
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

/**
 * Directory `dir` in tape form: ".", "..", then every name in it (in the walk's order: sorted by
 * bytes), the names copied straight from the table's name bytes.
 */
export function directorySource(t: EntryTable, dir: number): DirectorySource {
  const parent = dir === 0 ? dir : t.get(dir, XCol.parent);
  const start = t.get(dir, XCol.childStart) - 2;
  const child = (i: number) => t.linkChild[start + i]!;
  return {
    count: 2 + t.get(dir, XCol.childCount),
    ino: (i) => t.get(i === 0 ? dir : i === 1 ? parent : child(i), Col.ino),
    type: (i) => (i < 2 ? DT_DIR : dtypeOfMode(t.get(child(i), Col.mode))),
    nameLength: (i) => (i < 2 ? i + 1 : t.linkNameLength(start + i)),
    writeName: (i, buf, at) => {
      if (i < 2) { buf[at] = 0x2e; if (i === 1) buf[at + 1] = 0x2e; return; }
      // A byte loop: names are short, and Buffer.copy's checks cost more than the copy.
      const bytes = t.nameBytes;
      const s = t.linkStart[start + i]!;
      const n = t.linkNameLength(start + i);
      for (let j = 0; j < n; j++) buf[at + j] = bytes[s + j]!;
    },
  };
}
