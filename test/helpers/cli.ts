/** Running the snapdump CLI of this checkout as a child process. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const snapdumpBin = path.join(repoRoot, 'bin/snapdump');
export const sharedDir = path.resolve(repoRoot, '../shared');

export interface CliResult {
  status: number;
  stdout: Buffer;
  stderr: string;
  /** stdout parsed as JSON lines (when --json). */
  events(): Array<Record<string, unknown>>;
}

export function snapdump(args: string[], opts: { cwd?: string; input?: Buffer; env?: NodeJS.ProcessEnv } = {}): CliResult {
  const r = spawnSync(process.execPath, [snapdumpBin, ...args], { cwd: opts.cwd, input: opts.input, env: opts.env ?? process.env, maxBuffer: 1 << 30 });
  const stdout = r.stdout ?? Buffer.alloc(0);
  return {
    status: r.status ?? -1,
    stdout,
    stderr: r.stderr?.toString() ?? '',
    events: () => stdout.toString().split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
