/**
 * The offset map (file history): for every object, the byte offset of its first header in the
 * image. Appended as the backup goes, flushed with each checkpoint, cut back on restart to the
 * objects before the checkpoint. Records of 12 bytes: inode (u32 LE), offset (f64 LE; images
 * pass 4 GiB).
 */
import * as fs from 'node:fs';
import { SnapdumpError } from '../errors.js';

const RECORD = 12;
const FLUSH_AT = 64 * 1024;

export class OffsetMapWriter {
  private buf = Buffer.allocUnsafe(FLUSH_AT + RECORD);
  private used = 0;
  private readonly fd: number;

  /** Opens `file` for appending; `keepBefore` cuts it back to the objects that start before that image offset. */
  constructor(private readonly file: string, keepBefore: number | null = null) {
    try {
      this.fd = fs.openSync(file, keepBefore === null ? 'w' : 'r+', 0o600);
      if (keepBefore !== null) fs.ftruncateSync(this.fd, RECORD * countBefore(this.fd, keepBefore));
    } catch (e) {
      throw new SnapdumpError('ERR_STATE', `cannot open the offset map ${file}: ${(e as Error).message}`, { path: file }, { cause: e });
    }
  }

  add(ino: number, offset: number): void {
    this.buf.writeUInt32LE(ino, this.used);
    this.buf.writeDoubleLE(offset, this.used + 4);
    this.used += RECORD;
    if (this.used >= FLUSH_AT) this.flush();
  }

  /** Writes what is buffered; with `durable`, to stable storage. */
  flush(durable = false): void {
    try {
      if (this.used > 0) {
        const size = fs.fstatSync(this.fd).size;
        fs.writeSync(this.fd, this.buf, 0, this.used, size);
        this.used = 0;
      }
      if (durable) fs.fdatasyncSync(this.fd);
    } catch (e) {
      throw new SnapdumpError('ERR_STATE', `cannot write the offset map ${this.file}: ${(e as Error).message}`, { path: this.file }, { cause: e });
    }
  }

  close(): void {
    try { this.flush(); } finally { fs.closeSync(this.fd); }
  }

  /** Closes without writing what is buffered: the map is about to be deleted. */
  discard(): void {
    this.used = 0;
    fs.closeSync(this.fd);
  }
}

/** Records of objects that start before image offset `offset` (the map is in tape order). */
function countBefore(fd: number, offset: number): number {
  const size = fs.fstatSync(fd).size;
  const rec = Buffer.alloc(RECORD);
  // What a restart discards is the tail written since the checkpoint: scan back from the end.
  let keep = Math.floor(size / RECORD);
  while (keep > 0) {
    fs.readSync(fd, rec, 0, RECORD, (keep - 1) * RECORD);
    if (rec.readDoubleLE(4) < offset) break;
    keep--;
  }
  return keep;
}

export function readOffsetMap(file: string): Array<[ino: number, offset: number]> {
  const buf = fs.readFileSync(file);
  const out: Array<[number, number]> = [];
  for (let o = 0; o + RECORD <= buf.length; o += RECORD) out.push([buf.readUInt32LE(o), buf.readDoubleLE(o + 4)]);
  return out;
}
