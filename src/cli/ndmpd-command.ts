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
      user: { type: 'string', multiple: true },
      state: { type: 'string' },
      'allow-none-auth': { type: 'boolean' },
      'max-sessions': { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
    },
  });
  if (positionals.length) throw new UsageError(`ndmpd takes no operands ("${positionals[0]}")`);
  const maxSessions = values['max-sessions'];
  if (maxSessions !== undefined && !/^[1-9]\d*$/.test(maxSessions)) throw new UsageError('--max-sessions must be a positive integer');
  const config = loadConfig({
    listen: values.listen, config: values.config, volumes: values.volume, tapes: values.tape, users: values.user,
    state: values.state, allowNoneAuth: values['allow-none-auth'], maxSessions: maxSessions === undefined ? undefined : Number(maxSessions),
  });
  const log = values.quiet ? () => undefined : (m: string) => writeAllSync(2, `ndmpd: ${m}\n`);
  const server = new NdmpServer({ config, log });
  const addr = await server.listen();
  // The first line on stdout says where it listens (tests and scripts read it).
  writeAllSync(1, `listening on ${addr.host}:${addr.port}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => { process.off('SIGINT', stop); process.off('SIGTERM', stop); resolve(); };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await server.close();
  return 0;
}
