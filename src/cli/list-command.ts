/** `snapdump list`: the catalog of an image, like `restore -t`. */
import { parseArgs } from 'node:util';
import * as fs from 'node:fs';
import { UsageError } from '../errors.js';

export async function listCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args, allowPositionals: false, strict: true,
    options: { file: { type: 'string', short: 'f', multiple: true }, json: { type: 'boolean' } },
  });
  if (!values.file?.length) throw new UsageError('list needs -f FILE (or -f - for standard input)');
  fs.writeSync(2, 'snapdump: list is not wired yet\n');
  return 2;
}
