/** `snapdump ndmpd`: runs the NDMP v4 server until SIGINT/SIGTERM. */
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import { loadConfig } from '../ndmp/config.js';
import { NdmpServer } from '../ndmp/server.js';
import { writeAllSync } from './output.js';

export async function ndmpdCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true, strict: true,
    options: {
      listen: { type: 'string' },
      config: { type: 'string' },
      volume: { type: 'string', multiple: true },
      tape: { type: 'string', multiple: true },
      'tape-capacity': { type: 'string', multiple: true },
      user: { type: 'string', multiple: true },
      state: { type: 'string' },
      'allow-none-auth': { type: 'boolean' },
      'max-sessions': { type: 'string' },
      'override-vetoes': { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
    },
  });
  if (positionals.length) throw new UsageError(`ndmpd takes no operands ("${positionals[0]}")`);
  const maxSessions = values['max-sessions'];
  if (maxSessions !== undefined && !/^[1-9]\d*$/.test(maxSessions)) throw new UsageError('--max-sessions must be a positive integer');
  const config = loadConfig({
    listen: values.listen, config: values.config, volumes: values.volume, tapes: values.tape, tapeCapacity: values['tape-capacity'], users: values.user,
    state: values.state, allowNoneAuth: values['allow-none-auth'], maxSessions: maxSessions === undefined ? undefined : Number(maxSessions),
    overrideVetoes: values['override-vetoes'],
  });
  const log = values.quiet ? () => undefined : (m: string) => writeAllSync(2, `ndmpd: ${m}\n`);
  const server = new NdmpServer({ config, log });
  const addr = await server.listen();
  const signalled = new Promise<string>((resolve) => {
    const stop = (sig: string) => { process.off('SIGINT', stop); process.off('SIGTERM', stop); resolve(sig); };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  // The first line on stdout says where it listens (tests and scripts read it); the signal
  // handlers are in place before anyone can know the server is up.
  writeAllSync(1, `listening on ${addr.host}:${addr.port}\n`);
  const signal = await signalled;
  const abortRunning = config.overrideVetoes;
  log(`${signal}: ${abortRunning ? 'aborting running operations' : 'no new connections; waiting for running operations to finish'}`);
  // A second signal while waiting aborts what is still running.
  const again = () => { log('second signal: aborting running operations'); void server.close(); };
  process.once('SIGINT', again);
  process.once('SIGTERM', again);
  try {
    await server.stop({ abortRunning });
  } finally {
    process.off('SIGINT', again);
    process.off('SIGTERM', again);
  }
  return 0;
}
