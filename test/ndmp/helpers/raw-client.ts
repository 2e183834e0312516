/** A minimal NDMP client for tests that need to send exactly chosen (or broken) bytes. */
import * as net from 'node:net';
import { MessageType } from '../../../src/ndmp/codec/constants.js';
import { decodeMessage, encodeMessage, type Decoded } from '../../../src/ndmp/codec/message.js';
import { MESSAGES, type CallName, type RequestBody } from '../../../src/ndmp/codec/messages.js';
import { RecordAssembler, frameRecord } from '../../../src/ndmp/wire/record-marking.js';

export class RawClient {
  private readonly assembler = new RecordAssembler();
  private readonly inbox: Decoded[] = [];
  private waiters: Array<() => void> = [];
  private seq = 0;
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (b: Buffer) => {
      for (const r of this.assembler.push(b)) this.inbox.push(decodeMessage(r));
      this.wake();
    });
    socket.on('close', () => { this.closed = true; this.wake(); });
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  private wake(): void { const w = this.waiters; this.waiters = []; for (const f of w) f(); }

  /** Next message received (reply or post); null when the connection closed first. */
  async next(timeoutMs = 5000): Promise<Decoded | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.inbox.length === 0) {
      if (this.closed) return null;
      if (Date.now() > deadline) throw new Error('no message from the server');
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 100); });
    }
    return this.inbox.shift()!;
  }

  sendRaw(bytes: Buffer): void { this.socket.write(bytes); }

  send<N extends CallName>(name: N, body: RequestBody<N>): number {
    const sequence = ++this.seq;
    const rec = encodeMessage({ sequence, timeStamp: 0, messageType: MessageType.REQUEST, code: MESSAGES[name].code, replySequence: 0, error: 0 }, body, name);
    for (const f of frameRecord(rec)) this.socket.write(f);
    return sequence;
  }

  /** Sends a request and returns its reply (posts that arrive meanwhile are collected in `posts`). */
  async call<N extends CallName>(name: N, body: RequestBody<N>, posts: Decoded[] = []): Promise<Decoded & { ok: true }> {
    const seq = this.send(name, body);
    for (;;) {
      const m = await this.next();
      if (m === null) throw new Error(`connection closed while waiting for the ${name} reply`);
      if (m.header && m.header.messageType === MessageType.REPLY && m.header.replySequence === seq) {
        if (!m.ok) throw new Error(`undecodable reply: ${m.reason}`);
        return m;
      }
      posts.push(m);
    }
  }

  close(): void { this.socket.destroy(); }
}
