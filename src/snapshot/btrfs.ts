/**
 * The btrfs side of snapshots, through the `btrfs` command of btrfs-progs: which subvolume a
 * path lives in, making a read-only snapshot of it, describing and deleting one. Failures carry
 * a reason (NO_SPACE, PERMISSION...) read from the tool's message, because the CLI does not
 * give the errno any other way.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** statfs f_type of btrfs. */
export const BTRFS_SUPER_MAGIC = 0x9123683e;
/** Every subvolume's root directory (the top level's too) has this inode number. */
export const SUBVOLUME_ROOT_INO = 256;

export type BtrfsFailure = 'NO_SPACE' | 'PERMISSION' | 'READ_ONLY' | 'NOT_SUBVOLUME' | 'EXISTS' | 'NOT_FOUND' | 'NO_TOOL' | 'FAILED';

export class BtrfsError extends Error {
  constructor(readonly reason: BtrfsFailure, message: string, readonly stderr = '') {
    super(message);
    this.name = 'BtrfsError';
  }
}

export function isBtrfs(p: string): boolean {
  try {
    return fs.statfsSync(p).type === BTRFS_SUPER_MAGIC;
  } catch {
    return false;
  }
}

/**
 * The root of the subvolume holding `abs` (an absolute real path): the nearest ancestor, or
 * `abs` itself, whose inode is 256 on the same device. Null when that root is not visible here
 * (a bind mount of a directory inside a subvolume).
 */
export function subvolumeRootOf(abs: string): string | null {
  let dir = abs;
  let st = fs.statSync(dir);
  while (st.ino !== SUBVOLUME_ROOT_INO) {
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    const pst = fs.statSync(parent);
    if (pst.dev !== st.dev) return null;
    dir = parent;
    st = pst;
  }
  return dir;
}

const TOOL_CANDIDATES = ['/usr/bin/btrfs', '/bin/btrfs', '/usr/sbin/btrfs', '/sbin/btrfs', '/usr/local/bin/btrfs', '/usr/local/sbin/btrfs'];
let toolPath: string | null | undefined;

/** The btrfs command, found once: PATH first, then the usual places (cron's PATH is short). */
export function btrfsTool(): string | null {
  if (toolPath !== undefined) return toolPath;
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean).map((d) => path.join(d, 'btrfs'));
  toolPath = [...dirs, ...TOOL_CANDIDATES].find((p) => {
    try { fs.accessSync(p, fs.constants.X_OK); return true; } catch { return false; }
  }) ?? null;
  return toolPath;
}

/** The reason behind a btrfs-progs error message (it prints strerror text). */
export function failureOf(stderr: string): BtrfsFailure {
  if (/No space left on device|Disk quota exceeded/i.test(stderr)) return 'NO_SPACE';
  if (/Permission denied|Operation not permitted/i.test(stderr)) return 'PERMISSION';
  if (/Read-only file system/i.test(stderr)) return 'READ_ONLY';
  if (/Not a Btrfs subvolume|not a subvolume/i.test(stderr)) return 'NOT_SUBVOLUME';
  if (/File exists/i.test(stderr)) return 'EXISTS';
  if (/No such file or directory|cannot access/i.test(stderr)) return 'NOT_FOUND';
  return 'FAILED';
}

async function runBtrfs(args: string[]): Promise<string> {
  const tool = btrfsTool();
  if (tool === null) throw new BtrfsError('NO_TOOL', 'the btrfs command (btrfs-progs) is not installed');
  // Loaded here, not at start-up: child_process brings net and dgram along, which every backup
  // would compile and most (no btrfs source) never use.
  const { execFile } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    execFile(tool, args, { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) => {
      if (!err) { resolve(stdout); return; }
      const text = (stderr || err.message).trim().replace(/^ERROR:\s*/gm, '');
      reject(new BtrfsError(failureOf(text), `btrfs ${args.slice(0, 2).join(' ')}: ${text}`, text));
    });
  });
}

/**
 * A read-only snapshot of the subvolume `subvolume` at `dest`, which must not exist: btrfs
 * would put the snapshot inside an existing directory instead.
 */
export async function createReadOnlySnapshot(subvolume: string, dest: string): Promise<void> {
  if (fs.existsSync(dest)) throw new BtrfsError('EXISTS', `${dest} already exists`);
  await runBtrfs(['subvolume', 'snapshot', '-r', '--', subvolume, dest]);
}

export async function deleteSubvolume(p: string): Promise<void> {
  await runBtrfs(['subvolume', 'delete', '--', p]);
}

export interface SubvolumeInfo {
  uuid: string | null;
  parentUuid: string | null;
  readOnly: boolean;
}

export function parseSubvolumeShow(text: string): SubvolumeInfo {
  const field = (name: string) => {
    const m = new RegExp(`^\\s*${name}:\\s*(\\S+)\\s*$`, 'm').exec(text);
    return m && m[1] !== '-' ? m[1]! : null;
  };
  const flags = /^\s*Flags:\s*(.*)$/m.exec(text)?.[1] ?? '';
  return { uuid: field('UUID'), parentUuid: field('Parent UUID'), readOnly: /\breadonly\b/.test(flags) };
}

export async function subvolumeInfo(p: string): Promise<SubvolumeInfo> {
  return parseSubvolumeShow(await runBtrfs(['subvolume', 'show', '--', p]));
}
