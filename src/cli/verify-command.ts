/** `snapdump verify -f FILE -C DIR`: every difference between an image and a tree; read-only. */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import { writeAllSync } from './output.js';
import { verify } from '../verify/index.js';

export async function verifyCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args, allowPositionals: false, strict: true,
    options: { file: { type: 'string', short: 'f', multiple: true }, dir: { type: 'string', short: 'C' }, json: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' },
      microseconds: { type: 'boolean' }, 'birth-time': { type: 'boolean' } },
  });
  if (!values.file?.length) throw new UsageError('verify needs -f FILE (give every volume of a set, in order)');
  if (!values.dir) throw new UsageError('verify needs -C DIR, the tree to compare with');
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  try {
    const summary = await verify({
      files: values.file, dir: values.dir, signal: controller.signal,
      microseconds: values.microseconds, birthTime: values['birth-time'],
      onDifference: (d) => writeAllSync(1, values.json ? JSON.stringify({ type: 'difference', ...d }) + '\n' : `${d.path}: ${d.kind}: ${d.detail}\n`),
    });
    for (const d of summary.damage) fs.writeSync(2, `snapdump: damage at byte ${d.offset}: ${d.message}\n`);
    if (values.json) {
      writeAllSync(1, JSON.stringify({ type: 'summary', exitStatus: summary.exitStatus, differences: summary.differences.length, damage: summary.damage.length, objects: summary.objects, bytes: summary.bytes }) + '\n');
    } else if (!values.quiet) {
      fs.writeSync(2, `snapdump: ${summary.differences.length} difference${summary.differences.length === 1 ? '' : 's'}, ${summary.objects} objects and ${summary.bytes} bytes compared\n`);
    }
    return summary.exitStatus;
  } finally {
    process.off('SIGINT', onSignal);
  }
}
