/** The services each session gets. */
import type { ServerContext, SessionContext, SessionService } from './context.js';
import { MoverService } from './mover.js';
import { TapeService } from './tape.js';

export function sessionServices(_server: ServerContext): (s: SessionContext) => SessionService[] {
  return (s) => {
    const tape = new TapeService(s);
    const mover = new MoverService(s, tape);
    return [tape, mover];
  };
}
