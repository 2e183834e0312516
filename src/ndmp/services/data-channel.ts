/**
 * The data connection between a DATA service and a MOVER: the raw image stream, no NDMP
 * framing. LOCAL is an in-process pipe pair (same session), TCP a socket (possibly another
 * session or another server). Either end may finish its output gracefully (`end`) or tear the
 * whole connection down (`destroy`).
 */
import * as net from 'node:net';
import { PassThrough, type Readable, type Writable } from 'node:stream';

export interface DataChannel {
  /** Bytes from the peer. */
  readonly input: Readable;
  /** Bytes to the peer. */
  readonly output: Writable;
  /** Finish what this end sends; the peer sees end of stream. */
  end(): void;
  destroy(): void;
  /** Called once when the connection is completely gone (both ways, or torn down). */
  onClose(cb: () => void): void;
}

const HIGH_WATER = 1 << 20;

class LocalEnd implements DataChannel {
  private closeCbs: Array<() => void> = [];
  private closed = false;
  peer!: LocalEnd;
  constructor(readonly input: PassThrough, readonly output: PassThrough) {
    // The connection is gone when both directions have ended or one was destroyed.
    let ends = 0;
    const ended = () => { if (++ends === 2) this.fireClose(); };
    input.on('end', ended);
    output.on('finish', ended);
    input.on('close', () => { if (input.destroyed && !input.readableEnded) this.fireClose(); });
    input.on('error', () => undefined);
    output.on('error', () => undefined);
  }
  end(): void { if (!this.output.writableEnded) this.output.end(); }
  destroy(): void {
    this.input.destroy();
    this.output.destroy();
    this.fireClose();
    this.peer.fireClose();
  }
  onClose(cb: () => void): void { if (this.closed) cb(); else this.closeCbs.push(cb); }
  fireClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const cb of this.closeCbs.splice(0)) cb();
  }
}

/** An in-process connection: [data end, mover end]. */
export function localPair(): [DataChannel, DataChannel] {
  const aToB = new PassThrough({ highWaterMark: HIGH_WATER });
  const bToA = new PassThrough({ highWaterMark: HIGH_WATER });
  const a = new LocalEnd(bToA, aToB);
  const b = new LocalEnd(aToB, bToA);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

class SocketChannel implements DataChannel {
  constructor(private readonly socket: net.Socket) {
    socket.on('error', () => undefined);
  }
  get input(): Readable { return this.socket; }
  get output(): Writable { return this.socket; }
  end(): void { this.socket.end(); }
  destroy(): void { this.socket.destroy(); }
  onClose(cb: () => void): void {
    if (this.socket.destroyed) cb(); else this.socket.once('close', () => cb());
  }
}

export function socketChannel(socket: net.Socket): DataChannel {
  socket.setNoDelay(false);
  return new SocketChannel(socket);
}

/** Writes a chunk, waiting for room; resolves false when the connection closed instead. */
export function writeWithBackpressure(ch: DataChannel, chunk: Buffer): Promise<boolean> {
  const out = ch.output;
  if (out.destroyed || out.writableEnded) return Promise.resolve(false);
  if (out.write(chunk)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => { out.off('drain', onDrain); out.off('close', onClose); resolve(ok); };
    const onDrain = done(true);
    const onClose = done(false);
    out.once('drain', onDrain);
    out.once('close', onClose);
  });
}

export function ipv4ToNumber(ip: string): number {
  const m = /^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  if (!m) return 0x7f000001;
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
}

export function numberToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Connects out to a peer's data address, giving up after `timeoutMs`. */
export function connectTcp(ip: number, port: number, timeoutMs = 15_000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: numberToIpv4(ip), port, timeout: timeoutMs }, () => { sock.setTimeout(0); resolve(sock); });
    sock.once('timeout', () => { sock.destroy(); reject(new Error(`connecting to ${numberToIpv4(ip)}:${port} timed out`)); });
    sock.once('error', reject);
  });
}
