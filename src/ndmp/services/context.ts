/** What the services of one session see of it and of the server (kept apart to avoid import cycles). */
import type { CallName, ReplyBody, RequestBody } from '../codec/messages.js';
import type { NdmpdConfig } from '../config.js';
import type { IncomingRequest, NdmpConnection } from '../wire/connection.js';
import type { OperationSlots } from '../limits.js';

export interface ServerContext {
  readonly config: NdmpdConfig;
  readonly product: { vendor: string; name: string; revision: string };
  /** Devices held open, across sessions: a tape is used by one session at a time. */
  readonly tapesInUse: Set<string>;
  /** Backup/restore operations running, against the server's limit. */
  readonly operations: OperationSlots;
  /**
   * Data operations not yet settled, including their wind-down after an abort (a restartable
   * context is written then): the server waits for them before it is closed.
   */
  readonly settling: Set<Promise<void>>;
  log(message: string): void;
}

export interface SessionContext {
  readonly id: number;
  readonly server: ServerContext;
  readonly conn: NdmpConnection;
  log(message: string): void;
}

export type Handler<N extends CallName> = (req: RequestBody<N>, raw: IncomingRequest) => ReplyBody<N> | Promise<ReplyBody<N>>;
export type HandlerTable = { [N in CallName]?: Handler<N> };

export interface SessionService {
  handlers(): HandlerTable;
  /** The connection is gone: abort, release. */
  shutdown(reason: string): void;
}
