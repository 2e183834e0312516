/**
 * Exported volumes: the only places the server reads (backup) or writes (recover). A DMA names a
 * place as an absolute path inside a volume, or as /NAME[/sub/path]. Symbolic links are
 * resolved before the check, so no link leads outside.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export class VolumePathError extends Error {}

function inside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith('/') ? root : root + '/');
}

/** The real path of the longest existing ancestor, joined with the part that does not exist yet. */
function realish(p: string): string {
  let head = p;
  const tail: string[] = [];
  for (;;) {
    try {
      return path.join(fs.realpathSync(head), ...tail.reverse());
    } catch {
      const parent = path.dirname(head);
      if (parent === head) return p;
      tail.push(path.basename(head));
      head = parent;
    }
  }
}

/**
 * Resolves `name` to an absolute real path inside an exported volume, or throws
 * VolumePathError. `mustExist`: a backup source must exist; a restore destination may not yet.
 */
export function resolveInVolume(volumes: ReadonlyMap<string, string>, name: string, mustExist: boolean): { volume: string; path: string } {
  if (!name.startsWith('/')) throw new VolumePathError(`"${name}" is not an absolute path`);
  if (name.split('/').includes('..')) throw new VolumePathError(`"${name}" contains ".."`);
  const candidates: Array<[string, string]> = [];
  for (const [vol, root] of volumes) {
    const norm = path.normalize(name);
    if (inside(root, norm)) candidates.push([vol, norm]);
  }
  const first = name.split('/')[1] ?? '';
  const byName = volumes.get(first);
  if (byName && candidates.length === 0) candidates.push([first, path.join(byName, ...name.split('/').slice(2))]);
  for (const [vol, p] of candidates) {
    const root = volumes.get(vol)!;
    const real = realish(p);
    if (!inside(root, real)) continue;
    if (mustExist && !fs.existsSync(real)) throw new VolumePathError(`${name} does not exist`);
    return { volume: vol, path: real };
  }
  throw new VolumePathError(`${name} is not inside an exported volume`);
}
