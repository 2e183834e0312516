/** `snapdump vtape-export`: writes one file of a virtual tape (the NDMP server's tapes) as a plain image. */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import { tapeFileRecords } from '../tape/virtual-tape-files.js';
import { writeAllSync } from './output.js';

export async function vtapeExportCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true, strict: true,
    options: { file: { type: 'string', short: 'f' }, output: { type: 'string', short: 'o' }, 'tape-file': { type: 'string' } },
  });
  if (positionals.length) throw new UsageError(`vtape-export takes no operands ("${positionals[0]}")`);
  if (!values.file) throw new UsageError('vtape-export needs -f TAPE (a virtual tape file)');
  const out = values.output ?? '-';
  const n = values['tape-file'] ?? '0';
  if (!/^\d+$/.test(n)) throw new UsageError('--tape-file must be a number (0 = the first file on the tape)');
  const fd = out === '-' ? 1 : fs.openSync(out, 'w', 0o644);
  try {
    for await (const record of tapeFileRecords(values.file, Number(n))) writeAllSync(fd, record);
  } finally {
    if (fd !== 1) fs.closeSync(fd);
  }
  return 0;
}
