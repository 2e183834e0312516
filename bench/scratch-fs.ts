/**
 * Fresh, empty ext4 file systems for restore benchmarks: a sparse image file, `mke2fs`, a loop
 * device (direct I/O on the image) and a mount point, all torn down after use.
 *
 * Why: ANCHORS.md warns that on this machine's ext4, creating many files within about a minute of
 * deleting many is drastically slower (GNU tar extraction: 3 s → 38 s). A restore benchmark that
 * deletes its output and restores again into the same file system measures that, not the tool. So
 * every timed run gets a file system that has never held anything.
 *
 * Teardown (umount, `losetup -d`, delete the image, remove the mount point) always happens: in the
 * caller's `finally`, on process exit and on SIGINT/SIGTERM/SIGHUP. Leftovers of an earlier run
 * that was killed outright (SIGKILL) are recognised by the dead pid in their names and removed by
 * {@link cleanLeftovers}. Needs root (losetup, mount).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { log } from './util.js';

export interface ScratchFs {
  /** The sparse image file. */
  image: string;
  /** Loop device the image is attached to (read-write). */
  device: string;
  /** Where it is mounted. */
  mountPoint: string;
  sizeBytes: number;
  inodes: number;
  /**
   * Whether the loop device does direct I/O on the image (`losetup --direct-io=on`). Without it,
   * everything written is cached twice (the file system's pages and the image file's), so writing
   * 2 GB meets dirty-page throttling and reclaim that writing to a disk would not: GNU tar's
   * extraction of the large set took 6.9–11.4 s that way here, 3.2–4.1 s with direct I/O (no
   * difference for the small set). Falls back to buffered I/O where the image's file system
   * cannot do direct I/O (tmpfs).
   */
  directIo: boolean;
}

const PREFIX = 'restore-scratch-';

/** Scratch file systems made by this process and not yet torn down. */
const active = new Set<ScratchFs>();
let handlersInstalled = false;
let serial = 0;

function run(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}`.trim() };
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', destroyAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => { destroyAll(); process.exit(130); });
  }
}

function isMounted(mountPoint: string): boolean {
  try {
    // /proc/self/mounts escapes spaces etc. as octal; our paths have none.
    return fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === mountPoint);
  } catch { return false; }
}

function unmount(mountPoint: string): void {
  if (!isMounted(mountPoint)) return;
  let r = run('umount', [mountPoint]);
  for (let i = 0; !r.ok && i < 5; i++) {
    // Busy: a child that is still exiting. Try again briefly, then detach lazily.
    spawnSync('sleep', ['0.5']);
    r = run('umount', [mountPoint]);
  }
  if (!r.ok) {
    log(`warning: umount ${mountPoint} failed (${r.out}); detaching lazily`);
    run('umount', ['-l', mountPoint]);
  }
}

function detachImage(image: string): void {
  const r = run('losetup', ['-j', image]);
  for (const line of r.out.split('\n')) {
    const dev = line.split(':')[0]?.trim();
    if (dev && dev.startsWith('/dev/loop')) {
      const d = run('losetup', ['-d', dev]);
      if (!d.ok) log(`warning: losetup -d ${dev} failed: ${d.out}`);
    }
  }
}

/** Unmounts, detaches and deletes one scratch file system. Idempotent; never throws. */
export function destroyScratchFs(s: ScratchFs): void {
  try {
    unmount(s.mountPoint);
    const d = run('losetup', ['-d', s.device]);
    if (!d.ok && fs.existsSync(s.image)) detachImage(s.image); // already gone, or autocleared
    try { fs.unlinkSync(s.image); } catch { /* none */ }
    try { fs.rmdirSync(s.mountPoint); } catch { /* none, or still mounted lazily */ }
  } catch (e) {
    log(`warning: tearing down ${s.mountPoint}: ${(e as Error).message}`);
  } finally {
    active.delete(s);
  }
}

function destroyAll(): void {
  for (const s of [...active]) destroyScratchFs(s);
}

/**
 * Makes a fresh ext4 file system of `sizeBytes` (a sparse file in `dir`) with `inodes` inodes and
 * mounts it. mke2fs uses lazy inode-table and journal initialisation (formatting takes a moment,
 * not seconds), and the mount uses `noinit_itable` so the kernel's ext4lazyinit thread does not
 * zero inode tables in the background while a timed run is writing.
 */
export function makeScratchFs(dir: string, sizeBytes: number, inodes: number): ScratchFs {
  installHandlers();
  fs.mkdirSync(dir, { recursive: true });
  const id = `${process.pid}-${++serial}`;
  const image = path.join(dir, `${PREFIX}${id}.img`);
  const mountPoint = path.join(dir, `${PREFIX}${id}.mnt`);
  const size = Math.ceil(sizeBytes / 4096) * 4096;
  const s: ScratchFs = { image, device: '', mountPoint, sizeBytes: size, inodes, directIo: false };
  active.add(s);
  try {
    const fd = fs.openSync(image, 'wx');
    try { fs.ftruncateSync(fd, size); } finally { fs.closeSync(fd); }
    const mk = run('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '4096', '-m', '0', '-N', String(inodes),
      '-E', 'lazy_itable_init=1,lazy_journal_init=1', image]);
    if (!mk.ok) throw new Error(`mke2fs failed: ${mk.out}`);
    const lo = run('losetup', ['--direct-io=on', '-f', '--show', image]);
    if (!lo.ok) throw new Error(`losetup failed: ${lo.out}`);
    s.device = lo.out.split('\n').pop()!.trim();
    try { s.directIo = fs.readFileSync(`/sys/block/${path.basename(s.device)}/loop/dio`, 'utf8').trim() === '1'; } catch { s.directIo = false; }
    fs.mkdirSync(mountPoint);
    const m = run('mount', ['-t', 'ext4', '-o', 'noinit_itable', s.device, mountPoint]);
    if (!m.ok) throw new Error(`mount ${s.device} ${mountPoint} failed: ${m.out}`);
    return s;
  } catch (e) {
    destroyScratchFs(s);
    throw e;
  }
}

function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Removes scratch file systems in `dir` left by processes that no longer exist (killed runs). */
export function cleanLeftovers(dir: string): void {
  let names: string[];
  try { names = fs.readdirSync(dir); } catch { return; }
  for (const name of names) {
    const m = new RegExp(`^${PREFIX}(\\d+)-(\\d+)\\.(img|mnt)$`).exec(name);
    if (!m || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue;
    const p = path.join(dir, name);
    log(`removing leftover ${p} of a killed run (pid ${m[1]})`);
    if (m[3] === 'mnt') {
      unmount(p);
      try { fs.rmdirSync(p); } catch { /* not empty: still mounted lazily */ }
    } else {
      const mnt = p.replace(/\.img$/, '.mnt');
      unmount(mnt);
      detachImage(p);
      try { fs.unlinkSync(p); } catch { /* none */ }
      try { fs.rmdirSync(mnt); } catch { /* none */ }
    }
  }
}
