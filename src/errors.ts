/**
 * One error hierarchy for the whole engine. Every error that reaches a user carries a stable
 * `code` (documented in the README); callers branch on the code, never on the message.
 */
export type ErrorCode =
  | 'ERR_USAGE'              // bad command line or option value
  | 'ERR_BLOCKING_FACTOR'    // blocking factor outside 4..256
  | 'ERR_LEVEL'              // level outside 0..31
  | 'ERR_SOURCE'             // source missing, not a directory, unreadable
  | 'ERR_OUTPUT'             // output cannot be opened or written
  | 'ERR_NOT_DUMP'           // input is not a dump image
  | 'ERR_UNSUPPORTED'        // a dump variant or feature this build cannot read
  | 'ERR_CORRUPT'            // damaged image: bad checksum, impossible field, lost sync
  | 'ERR_TRUNCATED'          // image ends before its TS_END
  | 'ERR_ABORTED'            // the operation was cancelled (signal)
  | 'ERR_NATIVE'             // the native syscall addon is missing
  | 'ERR_STATE'              // state directory missing, unwritable, or a corrupt state file (names file and line)
  | 'ERR_LOCKED'             // the state directory stayed locked by another live process past the timeout
  | 'ERR_CHAIN'              // an incremental that does not continue the chain restored in DEST (names both dates)
  | 'ERR_SNAPSHOT'           // a snapshot could not be made or used (details.reason says why)
  | 'ERR_EXCLUDE'            // an exclude pattern breaks the rules (details.reason, details.pattern)
  | 'ERR_CONTEXT'            // no such backup context, or an id that is not one
  | 'ERR_BUSY'               // the backup context is held by another live process
  | 'ERR_NOT_RESTARTABLE'    // the backup context cannot be restarted (details.reason says why)
  | 'ERR_INTERNAL';          // a bug: should never reach a user

export class SnapdumpError extends Error {
  readonly code: ErrorCode;
  /** Extra machine-readable facts (path, offset, value...) for --json output. */
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SnapdumpError';
    this.code = code;
    this.details = details;
  }
}

export class UsageError extends SnapdumpError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('ERR_USAGE', message, details);
    this.name = 'UsageError';
  }
}

/** Raised by readers: the details always name the byte offset of the damage. */
export class ImageError extends SnapdumpError {
  constructor(code: 'ERR_NOT_DUMP' | 'ERR_UNSUPPORTED' | 'ERR_CORRUPT' | 'ERR_TRUNCATED', message: string, offset: number, details: Record<string, unknown> = {}) {
    super(code, message, { offset, ...details });
    this.name = 'ImageError';
  }
}

export function isSnapdumpError(e: unknown): e is SnapdumpError {
  return e instanceof SnapdumpError;
}

/** Node system errors carry .code like 'ENOENT'; this narrows to them. */
export function isErrno(e: unknown, ...codes: string[]): e is NodeJS.ErrnoException {
  return typeof e === 'object' && e !== null && 'code' in e && (codes.length === 0 || codes.includes(String((e as NodeJS.ErrnoException).code)));
}
