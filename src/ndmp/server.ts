/**
 * The NDMP server: accepts TCP connections, one session each, isolated from each other (a
 * session that fails or misbehaves ends alone). The engine is the library the CLI uses.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { NdmpdConfig } from './config.js';
import { OperationSlots, defaultOperationLimit } from './limits.js';
import type { ServerContext } from './services/context.js';
import { Session } from './session.js';
import { sessionServices } from './services/index.js';

export interface NdmpServerOptions {
  config: NdmpdConfig;
  log?: (message: string) => void;
}

function productRevision(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0';
  } catch {
    return '0';
  }
}

export class NdmpServer {
  private readonly server: net.Server;
  private readonly sessions = new Set<Session>();
  private nextId = 1;
  readonly context: ServerContext;

  constructor(opts: NdmpServerOptions) {
    const log = opts.log ?? (() => undefined);
    this.context = {
      config: opts.config,
      product: { vendor: 'snapdump', name: 'snapdump ndmpd', revision: productRevision() },
      tapesInUse: new Set(),
      operations: new OperationSlots(opts.config.maxSessions ?? defaultOperationLimit()),
      settling: new Set(),
      log,
    };
    const factory = sessionServices(this.context);
    this.server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      try {
        const session = new Session(this.nextId++, this.context, socket, factory, (s) => this.sessions.delete(s));
        this.sessions.add(session);
        session.log(`connected from ${socket.remoteAddress}:${socket.remotePort}`);
      } catch (e) {
        log(`cannot start a session: ${(e as Error).message}`);
        socket.destroy();
      }
    });
  }

  listen(): Promise<{ host: string; port: number }> {
    const { host, port } = this.context.config;
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const a = this.server.address() as net.AddressInfo;
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  get sessionCount(): number { return this.sessions.size; }

  /**
   * Stops accepting and ends every session at once; running operations are aborted, and waited
   * for until they have wound down (a stopped backup writes its restartable context then).
   */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of [...this.sessions]) s.shutdown('server shutting down');
    await closed;
    await Promise.all([...this.context.settling]);
  }

  /**
   * Shutdown as ONTAP's `override-vetoes`: with `abortRunning` false, stop accepting, let the
   * running backups and restores finish, give their DMAs `graceMs` to wrap up (filemarks,
   * closing the tape), then end what is left; with it true, abort everything now.
   */
  async stop(opts: { abortRunning: boolean; graceMs?: number }): Promise<void> {
    if (!opts.abortRunning) {
      this.server.close();
      const sleep = () => new Promise((r) => setTimeout(r, 100));
      while (this.context.operations.active > 0) await sleep();
      const deadline = Date.now() + (opts.graceMs ?? 10_000);
      while (this.sessions.size > 0 && Date.now() < deadline) await sleep();
    }
    await this.close();
  }
}
