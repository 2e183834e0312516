/**
 * The restore library API's types: options, events and the summary. Like backup(), restore()
 * never prints; the CLI (and later the NDMP server) render its events.
 */
import type { DamageCode } from '../read/image-reader.js';
import type { TapeInput } from '../tape/source.js';

export interface RenameSpec {
  /** The path in the image (relative to its root; './' and '/' prefixes are accepted). */
  from: string;
  /** Where to put it, relative to DEST. */
  to: string;
}

export interface RestoreOptions {
  /** The image, or its volumes in order; '-' is standard input. */
  files: string[];
  /** The destination directory (created when missing). Nothing is ever written outside it. */
  dest: string;
  /** Paths in the image to restore (a directory brings its subtree). None (and no renames): everything. */
  paths?: string[];
  /** NEW=OLD: restore the image's `from` under the name `to`. */
  renames?: RenameSpec[];
  /** Skip the free space / free inode check before writing. */
  force?: boolean;
  /** Read the image and report what would be written; write nothing. */
  dryRun?: boolean;
  signal?: AbortSignal;
  onEvent?: (event: RestoreEvent) => void;
  /** Byte streams instead of (or after) files, e.g. for tests. */
  inputs?: TapeInput[];
  /** Read size in bytes (default 1 MiB). */
  readSize?: number;
}

export type RestorePhase = 'catalog' | 'create' | 'extract' | 'finish';

/**
 * Codes of `warning` events. With `skipped: true` the entry was not restored (exit status 1).
 * - NOT_FOUND: a named path is not in the image
 * - BAD_NAME: an unsafe or damaged name in the image ('/', '.', '..', empty, cut 255-byte name)
 * - NAME_TOO_LONG: the destination path would exceed PATH_MAX
 * - DIR_LINK: a directory reachable under a second name (a hostile or damaged image)
 * - LOST: the entry's data is damaged or missing in the image (see `offset`)
 * - LOST_NAMES: a directory's listing is damaged; some of its entries may be missing
 * - IN_THE_WAY: an existing directory (or an undeletable file) occupies the name
 * - NO_SPACE: not restored because the destination ran out of space or inodes
 * - WRITE: the entry could not be written (permission, name, I/O)
 * - UNSUPPORTED: an object type that cannot be restored (unknown mode, directory outside the
 *   directory phase, metadata-only record with no file to apply it to)
 * - OWNER, MODE, TIMES, XATTR, FLAGS: restored, but this attribute could not be set
 */
export type RestoreNoticeCode =
  | 'NOT_FOUND' | 'BAD_NAME' | 'NAME_TOO_LONG' | 'DIR_LINK' | 'LOST' | 'LOST_NAMES' | 'IN_THE_WAY'
  | 'NO_SPACE' | 'WRITE' | 'UNSUPPORTED' | 'OWNER' | 'MODE' | 'TIMES' | 'XATTR' | 'FLAGS';

export interface RestoreNotice {
  code: RestoreNoticeCode;
  /**
   * The destination path concerned (absolute); for NOT_FOUND the operand as given, for BAD_NAME,
   * DIR_LINK and NAME_TOO_LONG found in the image's tree the image path ('./a/b').
   */
  path: string;
  message: string;
  /** True: the entry was not restored. */
  skipped: boolean;
  /** Inode number in the image, when the notice is about one. */
  ino?: number;
  /** Byte offset in the image of the damage that caused it (LOST). */
  offset?: number;
}

export interface RestoreDamage {
  /** Byte offset in the logical stream (all volumes in order, compressed records expanded). */
  offset: number;
  code: DamageCode;
  message: string;
}

export interface RestoreProgressEvent {
  type: 'progress';
  phase: RestorePhase;
  /** Objects (non-directories) restored so far. */
  files: number;
  totalFiles: number;
  /** File data bytes written so far. */
  bytes: number;
  /** File data bytes to write, when known before extraction (0 otherwise). */
  totalBytes: number;
  /** Bytes of the image read so far. */
  imageBytes: number;
  elapsedMs: number;
  rate: number;
  etaSeconds: number | null;
}

/** What a dry run would write (one per name, directories first). */
export interface RestoreEntryEvent {
  type: 'entry';
  path: string;
  kind: string;
  ino: number;
  size: number;
  /** 'create', or 'link' for a further name of an inode already listed. */
  action: 'create' | 'link';
}

export type RestoreEvent =
  | { type: 'phase'; phase: RestorePhase; elapsedMs: number }
  | RestoreProgressEvent
  | ({ type: 'warning' } & RestoreNotice)
  | ({ type: 'damage' } & RestoreDamage)
  | RestoreEntryEvent;

export interface SpaceReport {
  /** The check ran (false with force, or when the file system reports nothing). */
  checked: boolean;
  freeBytes: number;
  freeInodes: number | null;
  /**
   * Data to restore, as it will occupy the destination (null: unknown before extraction, e.g.
   * compressed or streamed input). With dataBound it is only an upper bound (twice the image
   * size), used when that already fits so that the image need not be read twice.
   */
  dataBytes: number | null;
  dataBound: boolean;
  /** Bytes required: data (rounded to file system blocks) plus the 100 MiB margin. */
  needBytes: number;
  needInodes: number;
  ok: boolean;
}

export interface RestoreSummary {
  /** 0: everything selected was restored; 1: finished, but something was skipped, lost or damaged. */
  exitStatus: 0 | 1;
  dest: string;
  dryRun: boolean;
  date: number;
  level: number;
  label: string;
  filesys: string;
  host: string;
  /** Non-directory objects restored (a hard-linked file counts once). */
  files: number;
  /** Directories created. */
  directories: number;
  /** Further names of restored objects (hard links). */
  links: number;
  /** File data bytes written. */
  dataBytes: number;
  /** Bytes of the image read. */
  imageBytes: number;
  durationMs: number;
  /** Names in the selection whose inode is not on this (incremental) tape: not an error. */
  notOnTape: number;
  /** Every entry that was not restored, with the reason. */
  skipped: RestoreNotice[];
  /** Entries restored with a problem (an attribute that could not be set). */
  warnings: RestoreNotice[];
  damage: RestoreDamage[];
  /** Set when the restore stopped early (no space left, I/O error); everything after it is in `skipped`. */
  stopped: { code: string; message: string } | null;
  space: SpaceReport | null;
}
