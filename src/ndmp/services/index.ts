/** The services each session gets. */
import type { ServerContext, SessionContext, SessionService } from './context.js';

export function sessionServices(_server: ServerContext): (s: SessionContext) => SessionService[] {
  return () => [];
}
