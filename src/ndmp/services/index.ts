/** The services each session gets. */
import type { ServerContext, SessionContext, SessionService } from './context.js';
import { DataService } from './data.js';
import { MoverService } from './mover.js';
import { TapeService } from './tape.js';

export function sessionServices(_server: ServerContext): (s: SessionContext) => SessionService[] {
  return (s) => {
    const tape = new TapeService(s);
    const mover = new MoverService(s, tape);
    const data = new DataService(s, mover);
    // Data first at shutdown: it stops producing before the mover stops, and the mover before the tape closes.
    return [data, mover, tape];
  };
}
