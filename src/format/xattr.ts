/**
 * Extended attributes as Linux dump carries them: ext2/ext4 on-disk EA blobs (always
 * little-endian, DUMP-FORMAT.md §6), with POSIX ACLs in the ext4 compact form.
 */

export interface Xattr {
  name: string;
  value: Buffer;
}

export const EA_MAGIC_BLOCK = 0xea020000;
export const EA_MAGIC_INODE = 0xea020001;
/** Linux restore skips blobs larger than this (XATTR_MAXSIZE). */
export const EA_MAX_BLOB = 4096;
const BLOCK_HEADER = 32;
const ENTRY_HEAD = 16;

const ACL_ACCESS = 'system.posix_acl_access';
const ACL_DEFAULT = 'system.posix_acl_default';

/** Name index → prefix. Index 2/3 are whole names. Others make Linux restore drop all EAs. */
const PREFIXES: Array<[index: number, prefix: string]> = [
  [2, ACL_ACCESS], [3, ACL_DEFAULT], [1, 'user.'], [4, 'trusted.'], [6, 'security.'], [5, 'lustre.'],
];

export function splitName(name: string): { index: number; suffix: Buffer } | null {
  for (const [index, prefix] of PREFIXES) {
    if (index === 2 || index === 3) {
      if (name === prefix) return { index, suffix: Buffer.alloc(0) };
    } else if (name.startsWith(prefix) && name.length > prefix.length) {
      return { index, suffix: Buffer.from(name.slice(prefix.length), 'utf8') };
    }
  }
  return null;
}

function joinName(index: number, suffix: Buffer): string | null {
  for (const [i, prefix] of PREFIXES) {
    if (i === index) return i === 2 || i === 3 ? prefix : prefix + suffix.toString('utf8');
  }
  return null;
}

// ACL tags.
const ACL_USER_OBJ = 0x01, ACL_USER = 0x02, ACL_GROUP_OBJ = 0x04, ACL_GROUP = 0x08, ACL_MASK = 0x10, ACL_OTHER = 0x20;

/** Kernel xattr form (version 2, 8-byte entries) → ext4 compact form (version 1). */
export function aclToDisk(value: Buffer): Buffer {
  if (value.length < 4 || (value.length - 4) % 8 !== 0 || value.readUInt32LE(0) !== 2) {
    throw new RangeError('not a POSIX ACL xattr value');
  }
  const parts: Buffer[] = [Buffer.from([1, 0, 0, 0])];
  for (let o = 4; o < value.length; o += 8) {
    const tag = value.readUInt16LE(o);
    const perm = value.readUInt16LE(o + 2);
    if (tag === ACL_USER || tag === ACL_GROUP) {
      const e = Buffer.alloc(8);
      e.writeUInt16LE(tag, 0); e.writeUInt16LE(perm, 2); e.writeUInt32LE(value.readUInt32LE(o + 4), 4);
      parts.push(e);
    } else {
      const e = Buffer.alloc(4);
      e.writeUInt16LE(tag, 0); e.writeUInt16LE(perm, 2);
      parts.push(e);
    }
  }
  return Buffer.concat(parts);
}

/** ext4 compact form → kernel xattr form, as Linux restore converts before lsetxattr. */
export function aclFromDisk(value: Uint8Array): Buffer {
  const v = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (v.length < 4 || v.readUInt32LE(0) !== 1) throw new RangeError('ACL version unknown');
  const out: Buffer[] = [Buffer.from([2, 0, 0, 0])];
  let o = 4;
  while (o < v.length) {
    if (o + 4 > v.length) throw new RangeError('ACL bad entry');
    const tag = v.readUInt16LE(o);
    const perm = v.readUInt16LE(o + 2);
    const e = Buffer.alloc(8);
    e.writeUInt16LE(tag, 0); e.writeUInt16LE(perm, 2);
    if (tag === ACL_USER || tag === ACL_GROUP) {
      if (o + 8 > v.length) throw new RangeError('ACL bad entry');
      e.writeUInt32LE(v.readUInt32LE(o + 4), 4);
      o += 8;
    } else if (tag === ACL_USER_OBJ || tag === ACL_GROUP_OBJ || tag === ACL_MASK || tag === ACL_OTHER) {
      e.writeUInt32LE(0xffffffff, 4);
      o += 4;
    } else {
      throw new RangeError('ACL bad entry');
    }
    out.push(e);
  }
  return Buffer.concat(out);
}

interface PreparedEntry { index: number; suffix: Buffer; value: Buffer; cost: number }

function entryCost(suffixLength: number, valueLength: number): number {
  return ((ENTRY_HEAD + suffixLength + 3) & ~3) + ((valueLength + 3) & ~3);
}

export interface EncodedXattrs {
  /** Blobs in block form, each becomes one EA extension record. */
  blobs: Buffer[];
  /** Attributes whose namespace the format cannot carry (Linux restore would drop all EAs). */
  unsupported: string[];
}

/**
 * Lays attributes out in ext2 EA blocks of at most `maxBlob` bytes (entries from the front,
 * values from the back, as ext4 does). An attribute that does not fit one 4 KiB blob gets a blob
 * of its own, larger than 4 KiB: Linux restore skips it, snapdump restores it. The blobs that
 * fit come first: Linux restore keeps only the last EA record of a directory it could read, and
 * after a skipped one it needs a padding record (see {@link EA_PADDING_BLOCK}).
 */
export function encodeXattrs(attrs: readonly Xattr[], maxBlob = EA_MAX_BLOB): EncodedXattrs {
  const unsupported: string[] = [];
  const prepared: PreparedEntry[] = [];
  const large: PreparedEntry[] = [];
  for (const a of attrs) {
    const split = splitName(a.name);
    if (!split || split.suffix.length > 255) { unsupported.push(a.name); continue; }
    const value = split.index === 2 || split.index === 3 ? aclToDisk(a.value) : a.value;
    const entry = { ...split, value, cost: entryCost(split.suffix.length, value.length) };
    (BLOCK_HEADER + 4 + entry.cost > maxBlob ? large : prepared).push(entry);
  }
  const blobs: Buffer[] = [];
  let group: PreparedEntry[] = [];
  let used = BLOCK_HEADER + 4;
  for (const p of prepared) {
    if (group.length > 0 && used + p.cost > maxBlob) {
      blobs.push(layoutBlock(group));
      group = [];
      used = BLOCK_HEADER + 4;
    }
    group.push(p);
    used += p.cost;
  }
  if (group.length > 0) blobs.push(layoutBlock(group));
  for (const p of large) blobs.push(layoutBlock([p]));
  return { blobs, unsupported };
}

/**
 * An EA block with no attributes, written as an extra EA record right after each record larger
 * than 4 KiB of a non-directory. Linux restore 0.4b47 skips an oversized EA record and then,
 * through a fall-through in extractattr(), skips the next record as well: without this padding
 * it would lose the following object. Readers that do read it find no attributes in it.
 * (Restore's directory phase skips only once, so directories get no padding.)
 */
export const EA_PADDING_BLOCK: Buffer = layoutBlock([]);

function layoutBlock(group: PreparedEntry[]): Buffer {
  const needed = BLOCK_HEADER + 4 + group.reduce((s, p) => s + p.cost, 0);
  // Blobs are sized in whole KiB so each is exactly its tape blocks; an oversized one (a single
  // attribute beyond 4 KiB) keeps its true size so Linux restore recognises and skips it.
  const size = Math.max(1024, Math.ceil(needed / 1024) * 1024);
  const buf = Buffer.alloc(size);
  buf.writeUInt32LE(EA_MAGIC_BLOCK, 0);
  buf.writeUInt32LE(1, 4); // h_refcount
  buf.writeUInt32LE(1, 8); // h_blocks
  // Values go right after the entry list (not at the block's end as ext4 does) so that their
  // 16-bit offsets stay valid in blobs larger than 64 KiB.
  let valuePos = BLOCK_HEADER + 4 + group.reduce((s, p) => s + ((ENTRY_HEAD + p.suffix.length + 3) & ~3), 0);
  let entry = BLOCK_HEADER;
  for (const p of group) {
    if (valuePos > 0xffff) throw new RangeError('extended attribute names too long for one EA block');
    buf[entry] = p.suffix.length;
    buf[entry + 1] = p.index;
    buf.writeUInt16LE(valuePos, entry + 2);
    buf.writeUInt32LE(0, entry + 4);
    buf.writeUInt32LE(p.value.length, entry + 8);
    p.suffix.copy(buf, entry + ENTRY_HEAD);
    p.value.copy(buf, valuePos);
    entry += (ENTRY_HEAD + p.suffix.length + 3) & ~3;
    valuePos += (p.value.length + 3) & ~3;
  }
  return buf;
}

export interface DecodedXattrs {
  attrs: Xattr[];
  /** Problems found (unknown magic, index, bad offsets): the blob's remaining attributes are lost. */
  errors: string[];
}

/** Reads an EA blob in block (0xEA020000) or in-inode (0xEA020001) form. ACLs come back in kernel form. */
export function decodeXattrs(blob: Uint8Array): DecodedXattrs {
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  const attrs: Xattr[] = [];
  const errors: string[] = [];
  if (b.length < 4) return { attrs, errors: ['EA blob too short'] };
  const magic = b.readUInt32LE(0);
  let first: number;
  let valueBase: number;
  if (magic === EA_MAGIC_BLOCK) { first = BLOCK_HEADER; valueBase = 0; }
  else if (magic === EA_MAGIC_INODE) { first = 4; valueBase = 4; }
  else return { attrs, errors: [`bad EA magic 0x${magic.toString(16)}`] };
  let pos = first;
  while (pos + 4 <= b.length && b.readUInt32LE(pos) !== 0) {
    if (pos + ENTRY_HEAD > b.length) { errors.push(`EA entry at ${pos} runs past the blob`); break; }
    const nameLen = b[pos]!;
    const index = b[pos + 1]!;
    const valueOffs = b.readUInt16LE(pos + 2);
    const valueSize = b.readUInt32LE(pos + 8);
    const nameEnd = pos + ENTRY_HEAD + nameLen;
    const vStart = valueBase + valueOffs;
    if (nameEnd > b.length || vStart + valueSize > b.length) { errors.push(`EA entry at ${pos} points outside the blob`); break; }
    const name = joinName(index, b.subarray(pos + ENTRY_HEAD, nameEnd));
    if (name === null) { errors.push(`unknown EA index ${index}`); break; }
    let value: Buffer = Buffer.from(b.subarray(vStart, vStart + valueSize));
    if (index === 2 || index === 3) {
      try { value = aclFromDisk(value); } catch (e) { errors.push(`${name}: ${(e as Error).message}`); pos = (nameEnd + 3) & ~3; continue; }
    }
    attrs.push({ name, value });
    pos = (nameEnd + 3) & ~3;
  }
  return { attrs, errors };
}
