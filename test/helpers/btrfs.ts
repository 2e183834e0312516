/**
 * A real btrfs file system on a loop device for the snapshot tests: a sparse file made into
 * btrfs, attached with losetup, mounted. `cleanup()` always unmounts, detaches and removes it,
 * whatever state a failed test left (tests run in CI on shared machines).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { haveProgram, isRoot, run, tempDir } from './tree.js';

export const canBtrfs = isRoot && fs.existsSync('/dev/loop-control') && haveProgram('mkfs.btrfs') && haveProgram('btrfs') && haveProgram('losetup');

export interface LoopBtrfs {
  /** Where it is mounted (the top-level subvolume). */
  mnt: string;
  device: string;
  cleanup(): void;
}

function must(cmd: string, args: string[]): string {
  const r = run(cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout.toString().trim();
}

export function mountBtrfs(sizeMiB = 300): LoopBtrfs {
  const dir = tempDir('btrfs');
  const image = path.join(dir, 'fs.img');
  const mnt = path.join(dir, 'mnt');
  let device = '';
  let mounted = false;
  const cleanup = () => {
    if (mounted) {
      if (run('umount', [mnt]).status !== 0) run('umount', ['-l', mnt]);
      mounted = false;
    }
    if (device) { run('losetup', ['-d', device]); device = ''; }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    fs.mkdirSync(mnt);
    fs.closeSync(fs.openSync(image, 'w'));
    fs.truncateSync(image, sizeMiB << 20);
    must('mkfs.btrfs', ['-q', image]);
    device = must('losetup', ['--find', '--show', image]);
    must('mount', [device, mnt]);
    mounted = true;
  } catch (e) {
    cleanup();
    throw e;
  }
  return { mnt, get device() { return device; }, cleanup };
}

export function btrfs(...args: string[]): string {
  return must('btrfs', args);
}

export function createSubvolume(p: string): void {
  btrfs('subvolume', 'create', p);
}

/** Subvolumes below `mnt`, by path relative to it (from `btrfs subvolume list`). */
export function listSubvolumes(mnt: string): string[] {
  return btrfs('subvolume', 'list', '-o', mnt).split('\n').filter(Boolean).map((l) => l.replace(/^.* path /, '')).sort();
}
