/**
 * One NDMP session = one TCP connection: its authentication state and its TAPE, MOVER and DATA
 * services. Requests before authentication may only be CONNECT_* and CONFIG_*; a message
 * without a handler gets NOT_SUPPORTED in the header; semantic errors go in reply bodies.
 * When the connection ends, running operations are aborted and the tape is released.
 */
import type { Socket } from 'node:net';
import { ConnectionStatus, NDMP_VERSION, NdmpErr } from './codec/constants.js';
import type { CallName } from './codec/messages.js';
import { NdmpConnection, type ConnectionHandler, type IncomingRequest } from './wire/connection.js';
import { AuthState, connectHandlers } from './services/connect.js';
import { configHandlers } from './services/config-info.js';
import type { Handler, HandlerTable, ServerContext, SessionContext, SessionService } from './services/context.js';

const PRE_AUTH = /^(CONNECT_|CONFIG_)/;

export class Session implements ConnectionHandler, SessionContext {
  readonly conn: NdmpConnection;
  private readonly auth = new AuthState();
  private readonly table: HandlerTable;
  private readonly services: SessionService[];
  private ended = false;

  constructor(readonly id: number, readonly server: ServerContext, socket: Socket,
    makeServices: (s: SessionContext) => SessionService[], private readonly onEnd: (s: Session) => void) {
    this.conn = new NdmpConnection(socket, this);
    this.services = makeServices(this);
    this.table = Object.assign({}, connectHandlers(this, this.auth), configHandlers(this), ...this.services.map((x) => x.handlers()));
    this.conn.post('NOTIFY_CONNECTION_STATUS', { reason: ConnectionStatus.CONNECTED, protocol_version: NDMP_VERSION, text_reason: 'snapdump ndmpd' });
  }

  log(message: string): void {
    this.server.log(`session ${this.id}: ${message}`);
  }

  async request(req: IncomingRequest): Promise<void> {
    if (!this.auth.authorized && !PRE_AUTH.test(req.name)) {
      this.conn.replyHeaderError(req.header, NdmpErr.NOT_AUTHORIZED);
      return;
    }
    if (req.name === 'CONNECT_CLOSE') {
      this.conn.replyHeaderError(req.header, NdmpErr.NO_ERR);
      this.conn.close();
      return;
    }
    const handler = this.table[req.name] as Handler<CallName> | undefined;
    if (!handler) {
      this.conn.replyHeaderError(req.header, NdmpErr.NOT_SUPPORTED);
      return;
    }
    const body = await handler(req.body as never, req);
    this.conn.reply(req as IncomingRequest & { name: CallName }, body as never);
  }

  closed(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.log(`ended: ${reason}`);
    for (const s of this.services) {
      try { s.shutdown(reason); } catch (e) { this.log(`shutdown: ${(e as Error).message}`); }
    }
    this.onEnd(this);
  }

  /** Server shutdown: tell the client, then close. */
  shutdown(text: string): void {
    this.conn.post('NOTIFY_CONNECTION_STATUS', { reason: ConnectionStatus.SHUTDOWN, protocol_version: NDMP_VERSION, text_reason: text });
    this.conn.close();
  }
}
