/**
 * Building the header sequence of one dumped object (file, directory, symlink, EA record):
 * TS_INODE then TS_ADDR every 512 blocks, interleaved with the data blocks they announce.
 * Pure: takes already-read data, returns buffers. c_tapea is left 0 for the tape writer to fill.
 */
import {
  DR_EXTATTRIBUTES, DR_NEWHEADER, EXT_XATTR, RecordType, TP_BSIZE, TP_NINDIR,
} from './constants.js';
import { encodeHeader, type Header } from './header.js';
import { baseHeader, type VolumeInfo } from './volume.js';
import { HeaderTemplate, type InodeFields } from './header-template.js';

/**
 * A run of tape blocks in tape order. `headers` are the block indexes (relative to the chunk's
 * first block) of every header, so the writer can fill in c_tapea; `objects` pairs each inode
 * whose object starts in this chunk with the block index of its first header.
 */
/**
 * File data the sink copies straight from the source file (copy_file_range), so it never
 * passes through this process: `length` bytes from `offset`, then zeros up to `blocks` KiB.
 */
export interface CopyPart {
  copy: { path: string | Buffer; offset: number; length: number; blocks: number };
}

export type TapePart = Buffer | CopyPart;

export function partBlocks(p: TapePart): number {
  return Buffer.isBuffer(p) ? p.length / TP_BSIZE : p.copy.blocks;
}

export interface TapeChunk<P extends TapePart = TapePart> {
  parts: P[];
  headers: number[];
  objects: Array<[ino: number, block: number]>;
  /** Called once the chunk's bytes are written, so its (shared, reused) memory can be refilled. */
  release?: () => void;
}

export function chunkBlocks(c: TapeChunk): number {
  let n = 0;
  for (const p of c.parts) n += partBlocks(p);
  return n;
}

/** Concatenates chunks logically (no data copy). */
export function joinChunks<P extends TapePart>(chunks: ReadonlyArray<TapeChunk<P>>): TapeChunk<P> {
  const out: TapeChunk<P> = { parts: [], headers: [], objects: [] };
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

export function volumeLabel(vol: VolumeInfo): TapeChunk<Buffer> {
  const h = baseHeader(vol, RecordType.TAPE);
  h.flags |= DR_NEWHEADER;
  h.count = 1;
  return { parts: [encodeOne(h)], headers: [0], objects: [] };
}

/** TS_CLRI or TS_BITS with its map blocks. */
export function mapRecord(vol: VolumeInfo, type: RecordType.CLRI | RecordType.BITS, map: Buffer, firstIno: number): TapeChunk<Buffer> {
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
const templates = new WeakMap<VolumeInfo, HeaderTemplate>();

/** The shared-field template of a volume, made once per VolumeInfo object. */
export function headerTemplate(vol: VolumeInfo): HeaderTemplate {
  let t = templates.get(vol);
  if (!t) { t = new HeaderTemplate(vol); templates.set(vol, t); }
  return t;
}

export function objectChunk(
  vol: VolumeInfo, ino: number, inode: InodeFields, nblocks: number, data: Buffer, present: Uint8Array | null,
  opts: { firstType?: RecordType; extraFlags?: number; extattributes?: number } = {},
): TapeChunk<Buffer> {
  const tpl = headerTemplate(vol);
  const parts: Buffer[] = [];
  const headers: number[] = [];
  let block = 0;
  let dataPos = 0;
  let entry = 0;
  let type = opts.firstType ?? RecordType.INODE;
  do {
    const n = Math.min(TP_NINDIR, nblocks - entry);
    const header = Buffer.allocUnsafe(TP_BSIZE);
    const presentHere = tpl.write(header, 0, type, ino, inode, n, present, entry, opts.extraFlags ?? 0, opts.extattributes ?? 0);
    headers.push(block);
    parts.push(header);
    block += 1 + presentHere;
    if (presentHere > 0) {
      parts.push(data.subarray(dataPos, dataPos + presentHere * TP_BSIZE));
      dataPos += presentHere * TP_BSIZE;
    }
    entry += n;
    type = RecordType.ADDR;
  } while (entry < nblocks);
  const startsObject = (opts.firstType ?? RecordType.INODE) === RecordType.INODE && !((opts.extraFlags ?? 0) & DR_EXTATTRIBUTES);
  return { parts, headers, objects: startsObject ? [[ino, 0]] : [] };
}

/** One EA extension record: the object's inode fields with di_size = blob size (§6.1). */
export function xattrChunk(vol: VolumeInfo, ino: number, inode: InodeFields, blob: Buffer): TapeChunk<Buffer> {
  const eaInode: InodeFields = { ...inode, size: blob.length };
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
