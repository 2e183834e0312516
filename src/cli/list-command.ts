/** `snapdump list`: the catalog of an image, the same text as `restore -t`, or JSON lines. */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import { writeAllSync } from './output.js';
import { formatListingBytes, formatListingJson, listImage } from '../read/list.js';

export async function listCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args, allowPositionals: false, strict: true,
    options: { file: { type: 'string', short: 'f', multiple: true }, json: { type: 'boolean' } },
  });
  if (!values.file?.length) throw new UsageError('list needs -f FILE (or -f - for standard input); give every volume of a set, in order');
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  try {
    const result = await listImage({ files: values.file, signal: controller.signal });
    // Names are written as their raw bytes, as restore does: they need not be UTF-8.
    writeAllSync(1, values.json ? Buffer.from(formatListingJson(result)) : formatListingBytes(result));
    for (const w of result.warnings) fs.writeSync(2, `snapdump: warning: ${w}\n`);
    for (const d of result.damage) fs.writeSync(2, `snapdump: damage [${d.code}] at byte ${d.offset}: ${d.message}\n`);
    return result.damage.length ? 1 : 0;
  } finally {
    process.off('SIGINT', onSignal);
  }
}
