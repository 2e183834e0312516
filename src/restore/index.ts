/**
 * The restore library API: one pass over the image, as the tape comes.
 *
 * 1. catalog: the label, the inode maps and the directory phase are read into a name tree
 *    (src/restore/tree.ts); at the first non-directory the plan is made (which inodes, which
 *    destination names: src/restore/selection.ts), the destination is checked for space
 *    (src/restore/space-check.ts) — nothing has been written up to here;
 * 2. create: every directory of the plan, in pre-order, each checked (src/restore/safe-path.ts);
 * 3. extract: the file phase in ascending inode order, each object to all its names
 *    (src/restore/extract.ts), its EA records applied as they follow it;
 * 4. finish: directory owners, modes, EAs, times and flags, deepest first.
 *
 * Damage never stops it: every intact file is restored, every selected name that is not is
 * reported with the reason and, where known, the byte offset of the damage. Running out of
 * space (or an I/O error on the destination) stops it cleanly: the object being written is
 * removed, everything not restored is reported. restore() never prints.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ImageError, SnapdumpError, UsageError, isSnapdumpError } from '../errors.js';
import type { InodeMap } from '../format/bitmap.js';
import { DR_METAONLY, DT_DIR, EXT_XATTR, S_IFDIR, S_IFMT, S_IFREG, kindOfMode } from '../format/constants.js';
import type { Header } from '../format/header.js';
import { ImageReader, type ObjectItem, type ReadItem } from '../read/image-reader.js';
import { openTapeSource, type TapeSource } from '../tape/source.js';
import { SETTABLE_FLAGS, applyXattrs, hasInheritableFlags, isStopError, ownerModeFd, setFlags, setTimes, type AttrEnv } from './attributes.js';
import {
  StopRestore, abandonObject, applyObjectXattrs, extractBuffered, extractObject, finishObject, newPending, reserveSpace, type ExtractContext, type Pending,
} from './extract.js';
import { FileBatcher, type BatchSink, type BatchedFile } from './file-batch.js';
import { InTheWay, ensureDirectory, openDirectory } from './safe-path.js';
import { checkSelection, makePlan, splitUserPath, type DirTarget, type LeafTarget, type Plan } from './selection.js';
import {
  SpaceGuard, checkSpace, describeShortfall, existingAncestor, fsFree, prescanDataBytes, roundUp,
} from './space-check.js';
import { NameTree, type TreeNode, type TreeWarning } from './tree.js';
import {
  STATE_FILE, applyChanges, checkChain, entryKey, graft, makeState, readState, stateTextOfTree, treeEntries, stateEntries as stateEntriesOf, writeState, type ChainState, type Entries,
} from './chain.js';
import type {
  RestoreDamage, RestoreEvent, RestoreNotice, RestoreNoticeCode, RestoreOptions, RestorePhase, RestoreSummary, SpaceReport,
} from './types.js';

export type * from './types.js';
export { parseOperands } from './selection.js';
export { STATE_FILE, removeState } from './chain.js';

/**
 * Test hook: SNAPDUMP_TEST_EXTRACT_DELAY_MS=N waits N ms before each object of the file phase,
 * so that tests can interrupt a restore while it extracts (it is otherwise over in moments).
 */
const TEST_EXTRACT_DELAY_MS = Number(process.env.SNAPDUMP_TEST_EXTRACT_DELAY_MS ?? 0);

export async function restore(opts: RestoreOptions): Promise<RestoreSummary> {
  return new RestoreRun(opts).run();
}

/** Where a stretch of damage was, to tell which missing inodes it took. */
interface DamageMark {
  offset: number;
  message: string;
  /** Directory-phase damage: directories above this inode may be lost (Infinity: none). */
  afterDir: number;
  /** File inodes strictly between these may be lost. */
  afterFile: number;
  beforeFile: number;
}

const S_ISGID = 0o2000;

/** Total size of the image files, or null when any is not a regular file (standard input, a pipe, a tape). */
function imageBytes(files: readonly string[]): number | null {
  if (files.length === 0) return null;
  let total = 0;
  for (const f of files) {
    if (f === '-') return null;
    try {
      const st = fs.statSync(f);
      if (!st.isFile()) return null;
      total += st.size;
    } catch {
      return null;
    }
  }
  return total;
}
const PROGRESS_MS = 200;
const MAX_XATTR_RECORD = 1 << 20;

function show(p: Buffer): string {
  return p.toString('utf8');
}

class RestoreRun {
  private readonly started = Date.now();
  private readonly dryRun: boolean;
  private readonly env: AttrEnv;
  private readonly ctx: ExtractContext;
  private destAbs = '';
  private destExisted = false;
  private destSetgid = false;
  private label: Header | null = null;
  private tree: NameTree | null = null;
  private dumped: InodeMap | null = null;
  private present: InodeMap | null = null;
  /** Whole-image restore: the chain state of DEST is checked, applied and updated. */
  private readonly whole: boolean;
  private chain: ChainState | null = null;
  private nextEntries: Entries | null = null;
  /** The image's tree, when this image starts a chain (its names are DEST's). */
  private stateRoot: TreeNode | null = null;
  private chainRoot = 0;
  private maxino = 0;
  private plan: Plan | null = null;
  private phase: 'maps' | 'dirs' | 'files' = 'maps';
  private uiPhase: RestorePhase = 'catalog';
  private lastDirIno = 0;
  private lastFileIno = 0;
  private readonly marks: DamageMark[] = [];
  private readonly done = new Set<number>();
  private pending: Pending | null = null;
  /** Small files go to disk in batches off the main thread (src/restore/file-batch.ts). */
  private batcher: FileBatcher | null = null;
  /** The last file put in a batch, until the next item shows it has no EA records. */
  private staged: BatchedFile | null = null;
  /** Every selected inode has been extracted: reading stops. */
  private allDone = false;
  /** The inode being extracted (until its pending object exists). */
  private current = 0;
  private stop: StopRestore | null = null;
  private space: SpaceReport | null = null;
  private reader: ImageReader | null = null;
  private readonly skipped: RestoreNotice[] = [];
  private readonly warnings: RestoreNotice[] = [];
  private readonly damage: RestoreDamage[] = [];
  private notOnTape = 0;
  private readonly stats = { files: 0, directories: 0, links: 0, bytes: 0 };
  private totals = { files: 0, bytes: 0 };
  private lastProgress = 0;

  constructor(private readonly opts: RestoreOptions) {
    this.dryRun = opts.dryRun ?? false;
    this.whole = (opts.paths?.length ?? 0) === 0 && (opts.renames?.length ?? 0) === 0;
    const euid = process.geteuid?.() ?? -1;
    this.env = {
      isRoot: euid === 0, euid, egid: process.getegid?.() ?? -1, umask: process.umask(),
      warn: (code, p, message, ino) => this.notice({ code, path: show(p), message, skipped: false, ...(ino ? { ino } : {}) }),
    };
    this.ctx = {
      env: this.env,
      skip: (code, p, message, ino, offset) => this.notice({ code, path: show(p), message, skipped: true, ino, ...(offset !== undefined ? { offset } : {}) }),
      onData: (n) => { this.stats.bytes += n; this.progress(); },
      guard: null,
      inheritsGroup: (t: LeafTarget) => !t.dir.created || this.destSetgid,
    };
    if (!this.dryRun) this.batcher = new FileBatcher(this.batchSink());
  }

  private batchSink(): BatchSink {
    return {
      ctx: this.ctx,
      written: () => { this.stats.files++; },
      undone: (f) => { this.done.delete(f.ino); },
      // The name was taken: the ordinary way replaces it safely (or reports what is in the way).
      redo: async (f, pieces) => {
        const p = await extractBuffered(f.ino, f.inode, f.offset, [f.target], pieces, this.ctx, true);
        if (p) this.finishOrAbandon(p);
      },
    };
  }

  private emit(e: RestoreEvent): void {
    this.opts.onEvent?.(e);
  }

  private notice(n: RestoreNotice): void {
    (n.skipped ? this.skipped : this.warnings).push(n);
    this.emit({ type: 'warning', ...n });
  }

  private setPhase(p: RestorePhase): void {
    this.uiPhase = p;
    this.emit({ type: 'phase', phase: p, elapsedMs: Date.now() - this.started });
  }

  private progress(force = false): void {
    const now = Date.now();
    if (!force && now - this.lastProgress < PROGRESS_MS) return;
    this.lastProgress = now;
    const ms = now - this.started;
    const rate = ms > 0 ? (this.stats.bytes * 1000) / ms : 0;
    this.emit({
      type: 'progress', phase: this.uiPhase, files: this.stats.files, totalFiles: this.totals.files,
      bytes: this.stats.bytes, totalBytes: this.totals.bytes, imageBytes: this.reader?.offset ?? 0, elapsedMs: ms, rate,
      etaSeconds: rate > 0 && this.totals.bytes > 0 ? Math.max(0, (this.totals.bytes - this.stats.bytes) / rate) : null,
    });
  }

  // ------------------------------------------------------------------ run

  async run(): Promise<RestoreSummary> {
    try {
      checkSelection({ paths: this.opts.paths ?? [], renames: this.opts.renames ?? [] });
      this.checkDest();
      const source = await openTapeSource([...this.opts.files, ...(this.opts.inputs ?? [])], {
        signal: this.opts.signal, readSize: this.opts.readSize,
      });
      try {
        await this.readImage(source);
      } finally {
        await source.close();
      }
    } catch (e) {
      if (isSnapdumpError(e)) throw e;
      const err = e as NodeJS.ErrnoException;
      throw new SnapdumpError('ERR_INTERNAL', `restore failed: ${err.message}`, { errno: err.code }, { cause: e });
    }
    return this.summary();
  }

  private async readImage(source: TapeSource): Promise<void> {
    const reader = this.reader = new ImageReader(source);
    this.setPhase('catalog');
    let failure: unknown = null;
    try {
      for await (const item of reader) {
        await this.handle(item, source);
        this.progress();
        if (this.allDone) break;
      }
      if (this.phase !== 'files') await this.endDirectoryPhase(source);
      await this.finishPending();
      await this.batcher?.drain();
    } catch (e) {
      if (e instanceof StopRestore) this.stop = e;
      else failure = e;
      if (this.pending) {
        if (!this.dryRun) abandonObject(this.pending, this.ctx);
        this.done.delete(this.pending.ino);
        this.pending = null;
      }
      // The object being written when it stopped was removed by extractObject: not restored.
      if (this.current) this.done.delete(this.current);
      // Batches in flight finish (what they wrote counts); nothing more is written.
      this.staged = null;
      if (this.batcher) {
        try {
          await this.batcher.drain(failure === null ? 'stopped' : 'interrupted');
        } catch (e2) {
          failure ??= e2;
        }
      }
    }
    this.batcher?.closeDirs();
    if (failure !== null) {
      // Cancelled or unreadable input: what was made stays, directories get their attributes.
      this.setPhase('finish');
      this.finishDirectories();
      if (this.opts.signal?.aborted || (isSnapdumpError(failure) && failure.code === 'ERR_ABORTED')) {
        throw new SnapdumpError('ERR_ABORTED', 'restore interrupted; the entry being written was removed, everything before it is restored', {}, { cause: failure });
      }
      throw failure;
    }
    this.reportMissing();
    this.setPhase('finish');
    // The chain state before the directories' attributes: DEST keeps the times the image gives it.
    const names = this.nextEntries ?? this.stateRoot;
    if (this.whole && !this.dryRun && !this.stop && this.label && names) {
      try {
        const state = this.nextEntries ? makeState(this.label, this.chainRoot, this.nextEntries) : stateTextOfTree(this.label, this.stateRoot!);
        writeState(this.destAbs, state, false);
      } catch (e) {
        this.notice({ code: 'WRITE', path: this.destAbs, message: `the image was restored, but the restore state (${STATE_FILE}) could not be written: ${(e as Error).message}; an incremental cannot be applied here`, skipped: true });
      }
    }
    this.finishDirectories();
    this.progress(true);
  }

  private async handle(item: ReadItem, source: TapeSource): Promise<void> {
    switch (item.kind) {
      case 'label':
        this.label = item.header;
        this.tree = new NameTree(item.byteOrder === 'le', item.oldInodeFormat);
        if (this.whole) {
          this.chain = readState(this.destAbs);
          checkChain(item.header, this.chain, this.opts.force ?? false);
        }
        return;
      case 'clri':
        this.maxino = item.maxino;
        this.present = item.map;
        if (this.phase === 'dirs') await this.endDirectoryPhase(source);
        return;
      case 'bits':
        this.dumped = item.map;
        if (this.phase === 'dirs') await this.endDirectoryPhase(source);
        return;
      case 'inode': {
        const isDir = (item.header.inode.mode & S_IFMT) === S_IFDIR;
        if (this.phase !== 'files' && isDir) {
          const data = await item.readAll({ dropHoles: true });
          this.tree!.addDirectory(item.ino, data, item.header.inode, item.offset, item.complete);
          this.phase = 'dirs';
          this.lastDirIno = item.ino;
          return;
        }
        if (this.phase !== 'files') await this.endDirectoryPhase(source);
        await this.finishPending();
        // Every selected inode has come by: the rest of the image is not needed.
        if (this.done.size >= this.plan!.leaves.size && !this.plan!.leaves.has(item.ino)) {
          this.allDone = true;
          return;
        }
        this.lastFileIno = item.ino;
        for (const m of this.marks) if (m.beforeFile === Infinity) m.beforeFile = item.ino;
        await this.extract(item);
        return;
      }
      case 'xattr': {
        if (item.header.extattributes !== EXT_XATTR) return;
        if (this.phase !== 'files') {
          if (item.ino === this.lastDirIno) {
            const blob = await item.readAll({ maxBytes: MAX_XATTR_RECORD });
            if (item.complete) this.tree!.addXattr(item.ino, blob);
          }
          return;
        }
        // A batched file has EA records after all: it is written the ordinary way.
        if (this.staged && this.staged.ino === item.ino) await this.unstage();
        const p = this.pending;
        if (p && p.ino === item.ino && !p.lost && !this.dryRun) {
          const blob = await item.readAll({ maxBytes: MAX_XATTR_RECORD });
          if (item.complete) applyObjectXattrs(p, blob, this.ctx);
        }
        return;
      }
      case 'damage': {
        const d: RestoreDamage = { offset: item.offset, code: item.code, message: item.message };
        this.damage.push(d);
        this.emit({ type: 'damage', ...d });
        this.marks.push({
          offset: item.offset, message: item.message,
          afterDir: this.phase === 'files' ? Infinity : this.lastDirIno,
          afterFile: this.lastFileIno, beforeFile: Infinity,
        });
        if (this.pending?.lost) this.pending.damageOffsets.push(item.offset);
        return;
      }
      case 'volume':
      case 'end':
        return;
    }
  }

  // ------------------------------------------------------------------ destination

  /** DEST must be a directory or not exist yet (then it is made when the first thing is written). */
  private checkDest(): void {
    if (!this.opts.dest) throw new UsageError('restore needs a destination directory (-C DEST)');
    const resolved = path.resolve(this.opts.dest);
    let st: fs.Stats | null = null;
    try {
      st = fs.statSync(resolved);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new SnapdumpError('ERR_OUTPUT', `cannot use ${this.opts.dest} as the destination: ${(e as Error).message}`, { path: this.opts.dest }, { cause: e });
      }
    }
    if (st && !st.isDirectory()) throw new SnapdumpError('ERR_OUTPUT', `the destination ${this.opts.dest} is not a directory`, { path: this.opts.dest });
    this.destExisted = st !== null;
    this.destSetgid = st !== null && (st.mode & S_ISGID) !== 0;
    // The existing part of DEST is taken symlink-free; what is missing below it is made by us.
    const anc = existingAncestor(resolved);
    this.destAbs = path.join(fs.realpathSync(anc), path.relative(anc, resolved));
  }

  private makeDest(t: DirTarget): void {
    if (this.destExisted) { t.state = 'ok'; t.inheritsFlags = this.dryRun ? false : inheritsFlagsAt(t.path); return; }
    if (this.dryRun) { t.state = 'ok'; this.stats.directories++; return; }
    try {
      fs.mkdirSync(this.destAbs, { recursive: true, mode: 0o700 });
    } catch (e) {
      if (isStopError(e)) throw new StopRestore('NO_SPACE', `cannot create the destination ${this.destAbs}: ${(e as Error).message}`);
      throw new SnapdumpError('ERR_OUTPUT', `cannot create the destination ${this.destAbs}: ${(e as Error).message}`, { path: this.destAbs }, { cause: e });
    }
    t.created = true;
    t.state = 'ok';
    t.inheritsFlags = inheritsFlagsAt(t.path);
    this.stats.directories++;
    // mkdir -p takes a set-gid parent's group and bit: new files would too.
    this.destSetgid = (fs.statSync(this.destAbs).mode & S_ISGID) !== 0;
  }

  // ------------------------------------------------------------------ plan, space, create

  private selectedPrefixes(): Buffer[] | null {
    const sel = [...(this.opts.paths ?? []), ...(this.opts.renames ?? []).map((r) => r.from)];
    if (sel.length === 0) return null;
    const out: Buffer[] = [];
    for (const p of sel) {
      const comps = splitUserPath(p, 'PATH');
      if (comps.length === 0) return null;
      out.push(Buffer.concat([Buffer.from('./'), ...comps.flatMap((c, i) => (i === 0 ? [c] : [Buffer.from('/'), c]))]));
    }
    return out;
  }

  private async endDirectoryPhase(source: TapeSource): Promise<void> {
    this.phase = 'files';
    const tree = this.tree!;
    const prefixes = this.selectedPrefixes();
    const relevant = (p: Buffer) => prefixes === null || prefixes.some((x) => p.equals(x) || (p.length > x.length && p[x.length] === 0x2f && p.subarray(0, x.length).equals(x)));
    const treeWarnings: TreeWarning[] = [];
    const bits = this.dumped;
    const absent: Array<{ parent: TreeNode; name: Buffer; ino: number; dtype: number; path: Buffer }> = [];
    const built = tree.build({
      maxino: this.maxino,
      isDumped: (ino) => (bits ? bits.has(ino) : true),
      onWarning: (w) => treeWarnings.push(w),
      ...(this.whole ? { onAbsent: (parent: TreeNode, name: Buffer, ino: number, dtype: number, p: Buffer) => { absent.push({ parent, name, ino, dtype, path: p }); } } : {}),
    });
    if (!built) {
      const d = this.damage[0];
      throw new ImageError('ERR_CORRUPT', `the root directory is not in the image${d ? ` (damage at byte ${d.offset}: ${d.message})` : ''}; nothing can be restored`, d?.offset ?? 0);
    }
    this.notOnTape = built.notOnTape;
    for (const w of treeWarnings) {
      if (relevant(w.path)) this.notice({ code: w.code, path: show(w.path), message: w.message, skipped: true });
    }
    const plan = this.plan = makePlan(built.root, Buffer.from(this.destAbs), { paths: this.opts.paths ?? [], renames: this.opts.renames ?? [] });
    for (const p of plan.notFound) this.notice({ code: 'NOT_FOUND', path: p, message: 'not found in the image', skipped: true });
    for (const p of plan.tooLong) this.notice({ code: 'NAME_TOO_LONG', path: show(p), message: 'not restored: the destination path would be longer than 4095 bytes', skipped: true });
    for (const t of plan.dirs) {
      if (t.rec && !t.rec.complete) {
        this.notice({ code: 'LOST_NAMES', path: show(t.path), message: `the listing of this directory is damaged in the image (object at byte ${t.rec.offset}); some of its entries may be missing`, skipped: true, ino: t.rec.ino, offset: t.rec.offset });
      }
    }
    this.totals.files = plan.leaves.size;
    await this.checkSpace(source, plan);
    tree.releaseData();
    if (this.whole) this.applyChain(built.root, absent);
    this.setPhase('create');
    this.createDirectories(plan);
    this.setPhase('extract');
    this.progress(true);
  }

  /**
   * The names of DEST after this image (the tape's listings, the unchanged directories' old
   * entries), and for an incremental applied onto a chain, the removals and moves that take
   * DEST there (src/restore/chain.ts).
   */
  private applyChain(root: TreeNode, absent: Array<{ parent: TreeNode; name: Buffer; ino: number; dtype: number; path: Buffer }>): void {
    const incremental = this.label!.ddate !== 0 && this.chain !== null;
    this.chainRoot = root.ino;
    if (!incremental) {
      // A chain starts here: DEST's names are the tree's (stateTextOfTree at the end).
      if (this.opts.force) for (const a of absent) this.notAbsent(a);
      this.stateRoot = root;
      return;
    }
    const old = this.chainOld();
    const next = treeEntries(root);
    const oldKind = new Map<number, boolean>();
    for (const e of old.values()) oldKind.set(e.ino, e.dir);
    const present = this.present;
    for (const a of absent) {
      const isDir = oldKind.get(a.ino);
      const gone = present !== null && !present.has(a.ino);
      if (isDir === undefined || gone) {
        this.notAbsent(a);
        continue;
      }
      const name = a.name.toString('latin1');
      next.set(entryKey(a.parent.ino, name), { parent: a.parent.ino, name, ino: a.ino, dir: isDir });
      if (isDir) graft(old, a.ino, next);
    }
    this.nextEntries = next;
    if (!incremental || this.dryRun) return;
    const bits = this.dumped;
    applyChanges({
      dest: this.destAbs, root: root.ino, date: this.label!.date, old, next,
      dumped: (ino) => (bits ? bits.has(ino) : true),
      warn: (code, p, message, ino) => this.notice({ code, path: show(p), message, skipped: true, ...(ino ? { ino } : {}) }),
    });
  }

  /** A name whose inode is neither on this tape nor restored by an earlier image of the chain. */
  private notAbsent(a: { ino: number; path: Buffer }): void {
    this.notice({ code: 'LOST', path: show(Buffer.concat([Buffer.from(this.destAbs), a.path.subarray(1)])), message: `not restored: inode ${a.ino} is not on this tape and no earlier image applied here restored it`, skipped: true, ino: a.ino });
  }

  private chainOld(): Entries {
    // Imported lazily to keep the type of the state in chain.ts.
    return stateEntriesOf(this.chain!);
  }

  private async checkSpace(source: TapeSource, plan: Plan): Promise<void> {
    if (this.opts.force) return;
    const where = existingAncestor(this.destAbs);
    const free = fsFree(where);
    const files = this.opts.inputs?.length ? [] : this.opts.files;
    let dirBytes = 0;
    for (const t of plan.dirs) if (!t.isDest) dirBytes += roundUp(Math.max(t.rec?.data?.length ?? 0, 1), free.bsize);
    const inodes = plan.dirs.length - 1 + plan.leaves.size;
    // Uncompressed image files: twice their size bounds what they can hold once written (a tiny
    // file takes a header and a block on tape, one file-system block on disk). When even that
    // fits, the headers need not be read twice; otherwise they are added up exactly.
    const bound = source.compressed ? null : imageBytes(files);
    let dataBytes: number | null = null;
    let bounded = false;
    if (bound !== null && checkSpace(free, { dataBytes: 2 * bound, dirBytes, inodes }).ok) {
      dataBytes = 2 * bound;
      bounded = true;
    } else if (bound !== null) {
      const pre = await prescanDataBytes(files, source.byteOrder, (ino) => plan.leaves.has(ino), free.bsize, this.opts.signal);
      if (pre) {
        dataBytes = pre.allocated;
        this.totals.bytes = pre.data;
      }
    }
    const report = this.space = { ...checkSpace(free, { dataBytes, dirBytes, inodes }), dataBound: bounded };
    if (!report.ok) {
      const msg = describeShortfall(report, this.destAbs);
      if (!this.dryRun) throw new SnapdumpError('ERR_OUTPUT', msg, { reason: 'NO_SPACE', path: this.destAbs, freeBytes: report.freeBytes, needBytes: report.needBytes, freeInodes: report.freeInodes, needInodes: report.needInodes });
      // A dry run goes on listing, but says (and its exit status shows) that this would fail.
      this.notice({ code: 'NO_SPACE', path: this.destAbs, message: `the restore would be refused: ${msg}`, skipped: true });
    }
    if (dataBytes === null && !this.dryRun) this.ctx.guard = new SpaceGuard(where);
  }

  private createDirectories(plan: Plan): void {
    for (const t of plan.dirs) {
      if (t.isDest) { this.makeDest(t); continue; }
      if (t.parent!.state !== 'ok') { t.state = 'failed'; continue; }
      if (this.dryRun) {
        t.state = 'ok';
        let exists = false;
        try { exists = fs.lstatSync(t.path).isDirectory(); } catch { /* to be made */ }
        if (!exists) this.stats.directories++;
        this.emit({ type: 'entry', path: show(t.path), kind: 'dir', ino: t.rec?.ino ?? 0, size: 0, action: 'create' });
        continue;
      }
      try {
        t.created = ensureDirectory(t.path, t.rec ? 0o700 : 0o777);
        t.state = 'ok';
        // A directory we made inherited its parent's flags; one we found has its own.
        t.inheritsFlags = t.created ? t.parent!.inheritsFlags : inheritsFlagsAt(t.path);
        if (t.created) this.stats.directories++;
      } catch (e) {
        t.state = 'failed';
        if (isStopError(e)) throw new StopRestore((e as NodeJS.ErrnoException).code === 'EIO' || (e as NodeJS.ErrnoException).code === 'EROFS' ? 'WRITE' : 'NO_SPACE', `the destination ran out of space or inodes while creating ${show(t.path)}`);
        const why = e instanceof InTheWay ? e.message : `${(e as NodeJS.ErrnoException).code ?? ''} ${(e as Error).message}`.trim();
        this.notice({ code: e instanceof InTheWay ? 'IN_THE_WAY' : 'WRITE', path: show(t.path), message: `directory not restored (nor anything in it): ${why}`, skipped: true, ...(t.rec ? { ino: t.rec.ino } : {}) });
      }
    }
  }

  // ------------------------------------------------------------------ extract

  private async extract(item: ObjectItem): Promise<void> {
    const all = this.plan!.leaves.get(item.ino);
    if (!all || this.done.has(item.ino)) return;
    this.done.add(item.ino);
    if (TEST_EXTRACT_DELAY_MS > 0) await new Promise((r) => setTimeout(r, TEST_EXTRACT_DELAY_MS));
    const targets: LeafTarget[] = [];
    for (const t of all) {
      if (t.dir.state === 'ok') targets.push(t);
      else this.ctx.skip('WRITE', t.path, 'not restored: its directory could not be created', item.ino);
    }
    if (targets.length === 0) return;
    if (this.dryRun) {
      const kind = kindOfMode(item.header.inode.mode);
      // The data is walked (not copied) to count what would be written and to find damage.
      let bytes = 0;
      for await (const piece of item.data()) if (piece.data) bytes += piece.data.length;
      if (!item.complete) {
        for (const t of targets) this.ctx.skip('LOST', t.path, `would not be restored: its data in the image is damaged or cut short (object at byte ${item.offset})`, item.ino, item.offset);
        return;
      }
      targets.forEach((t, i) => this.emit({ type: 'entry', path: show(t.path), kind, ino: item.ino, size: item.size, action: i === 0 ? 'create' : 'link' }));
      this.stats.files++;
      this.stats.links += targets.length - 1;
      if (kind === 'file') this.stats.bytes += bytes;
      return;
    }
    this.current = item.ino;
    const inode = item.header.inode;
    const b = this.batcher;
    if (b && targets.length === 1 && (inode.mode & S_IFMT) === S_IFREG && !(item.header.flags & DR_METAONLY)
      && (inode.flags & SETTABLE_FLAGS) === 0 && targets[0]!.dir.inheritsFlags === false && b.accepts(item.size, targets[0]!)) {
      reserveSpace(inode, targets[0]!.path, this.ctx);
      const staged = await b.stage({ ino: item.ino, inode, target: targets[0]!, offset: item.offset }, item.dataNow() ?? item.data(), () => item.complete);
      if (staged !== false) {
        this.current = 0;
        if (staged) this.staged = staged;
        // Cut short by damage: reported as lost with the damage that follows (as extractObject does).
        else this.pending = { ...newPending(item.ino, inode, item.offset, targets), lost: true };
        return;
      }
    }
    this.pending = await extractObject(item, targets, this.ctx);
    this.current = 0;
  }

  /** Takes the staged file back from its batch and writes it the ordinary way (it becomes the pending object). */
  private async unstage(): Promise<void> {
    const f = this.staged!;
    this.staged = null;
    const pieces = this.batcher!.takeBack();
    this.current = f.ino;
    this.pending = await extractBuffered(f.ino, f.inode, f.offset, [f.target], pieces, this.ctx, true);
    this.current = 0;
  }

  private finishOrAbandon(p: Pending): void {
    try {
      if (finishObject(p, this.ctx)) {
        this.stats.files++;
        this.stats.links += p.made.length - 1;
      }
    } catch (e) {
      abandonObject(p, this.ctx);
      this.done.delete(p.ino);
      throw e;
    }
  }

  private async finishPending(): Promise<void> {
    if (this.staged) {
      this.staged = null;
      await this.batcher!.seal();
    }
    const p = this.pending;
    if (!p) return;
    if (finishObject(p, this.ctx)) {
      this.stats.files++;
      this.stats.links += p.made.length - 1;
    }
    this.pending = null;
  }

  /** Which damage took inode `ino` (dtype of its name: directories are lost in the directory phase). */
  private markFor(ino: number, dtype: number): DamageMark | undefined {
    if (dtype === DT_DIR) return this.marks.find((m) => m.afterDir < ino);
    return this.marks.find((m) => m.afterFile < ino && ino < m.beforeFile);
  }

  private reportMissing(): void {
    const plan = this.plan;
    if (!plan) return;
    const stop = this.stop;
    const stopCode: RestoreNoticeCode = stop?.code === 'WRITE' ? 'WRITE' : 'NO_SPACE';
    if (stop) {
      for (const t of plan.dirs) {
        if (t.state === 'pending') this.ctx.skip(stopCode, t.path, `directory not restored: the restore stopped (${stop.message})`, t.rec?.ino ?? 0);
      }
    }
    for (const [ino, targets] of plan.leaves) {
      if (this.done.has(ino)) continue;
      for (const t of targets) {
        if (t.dir.state === 'failed') {
          this.ctx.skip('WRITE', t.path, 'not restored: its directory could not be created', ino);
        } else if (stop) {
          this.ctx.skip(stopCode, t.path, `not restored: the restore stopped (${stop.message})`, ino);
        } else {
          const m = this.markFor(ino, t.dtype);
          const what = t.dtype === DT_DIR ? 'directory' : 'inode';
          const msg = m ? `not restored: ${what} ${ino} is missing from the image (lost to the damage at byte ${m.offset})`
            : `not restored: ${what} ${ino} is listed as dumped but its header is not in the image`;
          this.ctx.skip('LOST', t.path, msg, ino, m?.offset);
        }
      }
    }
  }

  // ------------------------------------------------------------------ finish

  /**
   * Owners, modes, EAs, times and flags of the image's directories, deepest first: those made by
   * the restore and those that were there and got filled. DEST itself keeps its own unless the
   * restore made it.
   */
  private finishDirectories(): void {
    const plan = this.plan;
    if (!plan || this.dryRun) return;
    for (let i = plan.dirs.length - 1; i >= 0; i--) {
      const t = plan.dirs[i]!;
      if (t.state !== 'ok' || !t.rec || (t.isDest && !t.created)) continue;
      const { ino, inode, xattrs } = t.rec;
      let fd = -1;
      try {
        fd = openDirectory(t.path);
        ownerModeFd(fd, t.path, inode, this.env, ino, { chown: true, chmod: true });
        applyXattrs(t.path, xattrs, this.env, ino);
        setTimes(t.path, inode, this.env, ino);
        setFlags(fd, t.path, inode.flags, this.env, ino);
      } catch (e) {
        this.env.warn('WRITE', t.path, `cannot set the directory's attributes: ${(e as Error).message}`, ino);
      } finally {
        if (fd >= 0) fs.closeSync(fd);
      }
    }
  }

  private summary(): RestoreSummary {
    const h = this.label;
    const bad = this.skipped.length > 0 || this.damage.length > 0 || this.stop !== null;
    return {
      exitStatus: bad ? 1 : 0,
      dest: this.destAbs, dryRun: this.dryRun,
      date: h?.date ?? 0, level: h?.level ?? 0, label: h?.label ?? '', filesys: h?.filesys ?? '', host: h?.host ?? '',
      files: this.stats.files, directories: this.stats.directories, links: this.stats.links, dataBytes: this.stats.bytes,
      imageBytes: this.reader?.offset ?? 0, durationMs: Date.now() - this.started, notOnTape: this.notOnTape,
      skipped: this.skipped, warnings: this.warnings, damage: this.damage,
      stopped: this.stop ? { code: this.stop.code, message: this.stop.message } : null,
      space: this.space,
    };
  }
}

/** hasInheritableFlags of the directory at `path` (true when it cannot be told: then flags are checked). */
function inheritsFlagsAt(path: Buffer): boolean {
  let fd = -1;
  try {
    fd = openDirectory(path);
    return hasInheritableFlags(fd);
  } catch {
    return true;
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}
