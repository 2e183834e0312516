/**
 * Building the header sequence of one dumped object (file, directory, symlink, EA record):
 * TS_INODE then TS_ADDR every 512 blocks, interleaved with the data blocks they announce.
 * Pure: takes already-read data, returns buffers. c_tapea is left 0 for the tape writer to fill.
 */
import {
  DR_EXTATTRIBUTES, DR_NEWHEADER, DR_NEWINODEFMT, EXT_XATTR, RecordType, TP_BSIZE, TP_NINDIR,
} from './constants.js';
import { encodeHeader, emptyHeader, type DumpInode, type Header } from './header.js';

/** What every header of one dump carries (DUMP-FORMAT.md §10 checklist item 3). */
export interface VolumeInfo {
  date: number;
  ddate: number;
  volume: number;
  level: number;
  label: string;
  filesys: string;
  dev: string;
  host: string;
  ntrec: number;
  /** Highest inode number + 1 (TS_CLRI/TS_END carry maxino − 1). */
  maxino: number;
}

export function baseHeader(vol: VolumeInfo, type: number): Header {
  const h = emptyHeader();
  h.type = type;
  h.date = vol.date;
  h.ddate = vol.ddate;
  h.volume = vol.volume;
  h.level = vol.level;
  h.label = vol.label;
  h.filesys = vol.filesys;
  h.dev = vol.dev;
  h.host = vol.host;
  h.ntrec = vol.ntrec;
  h.flags = DR_NEWINODEFMT;
  return h;
}

/**
 * A run of tape blocks in tape order. `headers` are the block indexes (relative to the chunk's
 * first block) of every header, so the writer can fill in c_tapea; `objects` pairs each inode
 * whose object starts in this chunk with the block index of its first header.
 */
export interface TapeChunk {
  parts: Buffer[];
  headers: number[];
  objects: Array<[ino: number, block: number]>;
  /** Called once the chunk's bytes are written, so its (shared, reused) memory can be refilled. */
  release?: () => void;
}

export function chunkBlocks(c: TapeChunk): number {
  let n = 0;
  for (const p of c.parts) n += p.length / TP_BSIZE;
  return n;
}

/** Concatenates chunks logically (no data copy). */
export function joinChunks(chunks: readonly TapeChunk[]): TapeChunk {
  const out: TapeChunk = { parts: [], headers: [], objects: [] };
  let base = 0;
  for (const c of chunks) {
    out.parts.push(...c.parts);
    for (const h of c.headers) out.headers.push(base + h);
    for (const [ino, b] of c.objects) out.objects.push([ino, base + b]);
    base += chunkBlocks(c);
  }
  return out;
}

export function encodeOne(h: Header): Buffer {
  const buf = Buffer.allocUnsafe(TP_BSIZE);
  encodeHeader(h, buf, 0);
  return buf;
}

export function volumeLabel(vol: VolumeInfo): TapeChunk {
  const h = baseHeader(vol, RecordType.TAPE);
  h.flags |= DR_NEWHEADER;
  h.count = 1;
  return { parts: [encodeOne(h)], headers: [0], objects: [] };
}

/** TS_CLRI or TS_BITS with its map blocks. */
export function mapRecord(vol: VolumeInfo, type: RecordType.CLRI | RecordType.BITS, map: Buffer, firstIno: number): TapeChunk {
  const h = baseHeader(vol, type);
  h.count = map.length / TP_BSIZE;
  h.inode.size = map.length;
  h.inumber = type === RecordType.CLRI ? vol.maxino - 1 : firstIno;
  return { parts: [encodeOne(h), map], headers: [0], objects: [] };
}

export function endRecord(vol: VolumeInfo): Buffer {
  const h = baseHeader(vol, RecordType.END);
  h.inumber = vol.maxino - 1;
  return encodeOne(h);
}

/**
 * Headers + data for an object whose blocks are given as a presence map and the packed
 * present blocks. `present` null means every block is present. `data` holds exactly the
 * present blocks, in order, each 1 KiB (the last one zero-padded).
 */
export function objectChunk(
  vol: VolumeInfo, ino: number, inode: DumpInode, nblocks: number, data: Buffer, present: Uint8Array | null,
  opts: { firstType?: RecordType; extraFlags?: number; extattributes?: number } = {},
): TapeChunk {
  const parts: Buffer[] = [];
  const headers: number[] = [];
  let block = 0;
  let dataPos = 0;
  let entry = 0;
  let type = opts.firstType ?? RecordType.INODE;
  const end = entry + nblocks;
  do {
    const h = baseHeader(vol, type);
    h.inumber = ino;
    h.inode = inode;
    h.flags |= opts.extraFlags ?? 0;
    h.extattributes = opts.extattributes ?? 0;
    const n = Math.min(TP_NINDIR, end - entry);
    h.count = n;
    let presentHere = 0;
    for (let i = 0; i < n; i++) {
      const p = present === null || present[entry + i] !== 0;
      h.addr[i] = p ? 1 : 0;
      if (p) presentHere++;
    }
    headers.push(block);
    parts.push(encodeOne(h));
    block += 1 + presentHere;
    if (presentHere > 0) {
      parts.push(data.subarray(dataPos, dataPos + presentHere * TP_BSIZE));
      dataPos += presentHere * TP_BSIZE;
    }
    entry += n;
    type = RecordType.ADDR;
  } while (entry < end);
  const startsObject = (opts.firstType ?? RecordType.INODE) === RecordType.INODE && !((opts.extraFlags ?? 0) & DR_EXTATTRIBUTES);
  return { parts, headers, objects: startsObject ? [[ino, 0]] : [] };
}

/** One EA extension record: the object's inode fields with di_size = blob size (§6.1). */
export function xattrChunk(vol: VolumeInfo, ino: number, inode: DumpInode, blob: Buffer): TapeChunk {
  const eaInode: DumpInode = { ...inode, size: blob.length };
  return objectChunk(vol, ino, eaInode, blob.length / TP_BSIZE, blob, null, {
    extraFlags: DR_EXTATTRIBUTES, extattributes: EXT_XATTR,
  });
}

/** Pads `data` with zeros to whole tape blocks (copies only when needed). */
export function padToBlocks(data: Buffer): Buffer {
  const rem = data.length % TP_BSIZE;
  if (rem === 0 && data.length > 0) return data;
  const out = Buffer.alloc(Math.max(TP_BSIZE, data.length + (rem === 0 ? 0 : TP_BSIZE - rem)));
  data.copy(out);
  return out;
}
