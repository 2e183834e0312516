/**
 * One NDMP control connection: record marking and message codec over a TCP socket. Requests
 * are handed to the session one at a time, in order; replies and posts share one sequence
 * counter; posts never wait for anything. Anything malformed gets a header error reply, or
 * closes the connection when the stream itself cannot be trusted any more; it never throws out.
 */
import type { Socket } from 'node:net';
import { MessageType, NdmpErr } from '../codec/constants.js';
import { decodeMessage, encodeMessage, type Header } from '../codec/message.js';
import { MESSAGES, isPost, type CallName, type MessageName, type PostName, type ReplyBody, type RequestBody } from '../codec/messages.js';
import { RecordAssembler, RecordMarkingError, frameRecord, type RecordLimits } from './record-marking.js';

export interface IncomingRequest {
  header: Header;
  name: CallName;
  body: unknown;
}

export interface ConnectionHandler {
  /** A decoded request; the connection waits for the returned promise before the next one. */
  request(req: IncomingRequest): Promise<void> | void;
  /** The peer closed or the connection failed: the session ends. */
  closed(reason: string): void;
  /** Something worth logging (bad input that was answered or led to closing). */
  log?(message: string): void;
}

export class NdmpConnection {
  private sequence = 0;
  private readonly assembler: RecordAssembler;
  private queue: Buffer[] = [];
  private busy = false;
  private ended = false;

  constructor(readonly socket: Socket, private readonly handler: ConnectionHandler, limits?: RecordLimits) {
    this.assembler = new RecordAssembler(limits);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => this.end(`socket error: ${e.message}`));
    socket.on('close', () => this.end(this.assembler.midRecord ? 'peer closed mid-record' : 'peer closed'));
  }

  get isOpen(): boolean { return !this.ended; }

  /** Local address of the control connection (data listeners bind to it, as the reference does). */
  get localAddress(): string { return this.socket.localAddress ?? '127.0.0.1'; }

  post<N extends PostName>(name: N, body: RequestBody<N>): void {
    this.send({ messageType: MessageType.REQUEST, code: MESSAGES[name].code, replySequence: 0, error: NdmpErr.NO_ERR }, body, name);
  }

  /**
   * A post sent just before the next reply (after the peer's next request), or after `maxDelayMs`
   * at the latest. For a notice that should reach the DMA after it has reacted to the one before
   * (see MoverService.endLocalImage).
   */
  postSoon<N extends PostName>(name: N, body: RequestBody<N>, maxDelayMs = 100): void {
    const send = () => {
      const i = this.held.indexOf(send);
      if (i < 0) return;
      this.held.splice(i, 1);
      clearTimeout(timer);
      this.post(name, body);
    };
    const timer = setTimeout(send, maxDelayMs);
    timer.unref();
    this.held.push(send);
  }

  private held: Array<() => void> = [];

  private releaseHeld(): void {
    for (const send of [...this.held]) send();
  }

  reply<N extends CallName>(req: IncomingRequest & { name: N }, body: ReplyBody<N>): void {
    this.releaseHeld();
    this.send({ messageType: MessageType.REPLY, code: req.header.code, replySequence: req.header.sequence, error: NdmpErr.NO_ERR }, body, req.name);
  }

  /** A header-level error: no body follows. */
  replyHeaderError(header: Header, error: number): void {
    this.releaseHeld();
    this.send({ messageType: MessageType.REPLY, code: header.code, replySequence: header.sequence, error }, undefined);
  }

  close(): void {
    if (!this.socket.destroyed) this.socket.end();
    this.end('closed by the server');
  }

  /** Resolves when what was written so far has drained (for posts in bulk). */
  async drained(): Promise<void> {
    if (this.ended || !this.socket.writableNeedDrain) return;
    await new Promise<void>((resolve) => {
      const done = () => { this.socket.off('drain', done); this.socket.off('close', done); resolve(); };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  private send(h: Omit<Header, 'sequence' | 'timeStamp'>, body: unknown, name?: MessageName): void {
    if (this.ended || this.socket.destroyed) return;
    const header: Header = { sequence: ++this.sequence, timeStamp: Math.floor(Date.now() / 1000), ...h };
    let record: Buffer;
    try {
      record = encodeMessage(header, body, name);
    } catch (e) {
      // A bug in a reply body: tell the peer rather than leave it waiting.
      this.handler.log?.(`cannot encode ${name ?? header.code}: ${(e as Error).message}`);
      record = encodeMessage({ ...header, error: NdmpErr.XDR_ENCODE }, undefined);
    }
    for (const part of frameRecord(record)) this.socket.write(part);
  }

  private onData(chunk: Buffer): void {
    if (this.ended) return;
    let records: Buffer[];
    try {
      records = this.assembler.push(chunk);
    } catch (e) {
      if (!(e instanceof RecordMarkingError)) throw e;
      this.handler.log?.(`closing: ${e.message}`);
      this.socket.destroy();
      this.end(e.message);
      return;
    }
    if (records.length === 0) return;
    this.queue.push(...records);
    void this.drain();
  }

  private async drain(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length && !this.ended) await this.handle(this.queue.shift()!);
    } finally {
      this.busy = false;
    }
  }

  private async handle(record: Buffer): Promise<void> {
    const d = decodeMessage(record);
    if (!d.ok) {
      this.handler.log?.(`bad message: ${d.reason}`);
      if (d.header === null) { this.socket.destroy(); this.end(d.reason); return; }
      // Answer requests only; a bad reply or post from the peer gets nothing back.
      if (d.header.messageType === MessageType.REQUEST) this.replyHeaderError(d.header, d.error);
      return;
    }
    if (d.header.messageType !== MessageType.REQUEST) {
      this.handler.log?.(`ignored an unexpected reply to sequence ${d.header.replySequence}`);
      return;
    }
    if (isPost(d.name)) {
      this.handler.log?.(`ignored a ${d.name} post from the client`);
      return;
    }
    try {
      await this.handler.request({ header: d.header, name: d.name, body: d.body });
    } catch (e) {
      // A handler bug must not take the server down: answer UNDEFINED and keep the session.
      this.handler.log?.(`${d.name} failed: ${(e as Error).stack ?? String(e)}`);
      this.replyHeaderError(d.header, NdmpErr.UNDEFINED);
    }
  }

  private end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.queue = [];
    this.handler.closed(reason);
  }
}
