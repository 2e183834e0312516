/**
 * Dump inode numbers for the objects of a walk. They are the identity of files across the
 * levels of a chain (DUMP-FORMAT.md §7.2), so they must be the same at every level:
 *
 * - identity: the root is 2 and every other object keeps its st_ino, when every st_ino is in
 *   3..2^27-1 and none equals the root's. The rule depends only on the numbers, never on the
 *   size of the tree, so a source keeps this numbering at every level. No state is needed.
 * - map: otherwise (or when asked, or once a map exists for the dump name) the persistent map
 *   of the dump name in the state directory (src/state/inode-map.ts) gives the numbers.
 * - dense: walk order, when no map can be used; only a level 0 can be numbered so.
 */
import { SnapdumpError } from '../errors.js';
import { ROOTINO } from '../format/constants.js';
import { Col } from '../workers/read-protocol.js';
import { ROW, XCol, type EntryTable, type Name } from './entry-table.js';
import * as sysx from '../native/sysx.js';
import { assignNumbers, keyOfIno, keyOfPath, type InodeMapData, type InodeMapHandle, type MapObject } from '../state/inode-map.js';

/** Source inode numbers at or above this are not kept (the maps would reach 16 MiB). */
const IDENTITY_LIMIT = 1 << 27;

export interface NumberingOptions {
  /** Base date of an incremental (0: a full backup). */
  since: number;
  /** The backup's date: numbers freed now are not given again before a later backup. */
  date: number;
  /** Number through the map even when the source's own numbers would serve. */
  forceMap: boolean;
  /** Whether the dump name already has a map (then it is always used). */
  mapExists: boolean;
  /** Opens (and locks) the map of the dump name; absent when there is no state to keep it in. */
  openMap?: () => Promise<InodeMapHandle>;
  /** The walk's root path and the ids of objects on another device (keyed by path). */
  rootPath: Name;
  foreign: ReadonlySet<number>;
  /** A level 0 whose map cannot be opened falls back to dense numbering and says so. */
  onFallback?: (message: string) => void;
}

export interface Numbering {
  maxino: number;
  mode: 'identity' | 'map' | 'dense';
  /** In map mode: the open map and what to store in it once the image is complete. */
  map?: { handle: InodeMapHandle; next: InodeMapData };
}

/**
 * Numbers the objects by the identity rule, checking on the way that it applies: one pass over
 * the table (native: the table is tens of megabytes, and the pass runs once). Returns maxino, or
 * 0 when some source number does not fit (the numbers written so far are then overwritten by
 * another mode).
 */
function identityNumbers(t: EntryTable): number {
  return sysx.identityNumbers(t.rows.subarray(0, t.count * ROW), IDENTITY_LIMIT);
}

function relativePath(t: EntryTable, id: number, root: Name): Buffer {
  return Buffer.from(t.path(id)).subarray(Buffer.from(root).length + 1);
}

export async function numberInodes(t: EntryTable, opts: NumberingOptions): Promise<Numbering> {
  t.set(0, Col.ino, ROOTINO);
  if (!opts.forceMap && !opts.mapExists) {
    const maxino = identityNumbers(t);
    if (maxino > 0) return { maxino, mode: 'identity' };
  }
  let handle: InodeMapHandle | null = null;
  if (opts.openMap) {
    try {
      handle = await opts.openMap();
    } catch (e) {
      if (opts.since > 0 || opts.mapExists) throw e;
      opts.onFallback?.(`${(e as Error).message}; objects are numbered in walk order, so this level 0 cannot be the base of an incremental`);
    }
  }
  if (!handle) {
    if (opts.since > 0) {
      throw new SnapdumpError('ERR_UNSUPPORTED', 'the inode numbers of this source do not fit the dump format as they are and no inode map can be kept for it, so they cannot be kept stable across levels; only level 0 backups are possible', {});
    }
    for (let id = 1; id < t.count; id++) t.set(id, Col.ino, ROOTINO + id);
    return { maxino: ROOTINO + t.count, mode: 'dense' };
  }
  try {
    // An incremental that starts a map continues images numbered by the identity rule: objects
    // that fit keep their st_ino. One that does not fit and existed at the base cannot have had
    // a stable number in those images.
    const seeding = !handle.existed && opts.since > 0;
    const rootSrc = t.get(0, XCol.srcIno);
    const objs: MapObject[] = new Array(t.count - 1);
    for (let id = 1; id < t.count; id++) {
      const foreign = opts.foreign.has(id);
      const src = t.get(id, XCol.srcIno);
      const ok = !foreign && src > ROOTINO && src < IDENTITY_LIMIT && src !== rootSrc;
      if (seeding && !ok && t.get(id, Col.mtimeSec) < opts.since && t.get(id, Col.ctimeSec) < opts.since) {
        throw new SnapdumpError('ERR_UNSUPPORTED', `${String(t.path(id))} has inode number ${src}, which the earlier images of this dump could not keep; make a new level 0 (it starts the inode map of this dump name)`, { path: String(t.path(id)), ino: src });
      }
      objs[id - 1] = {
        key: foreign ? keyOfPath(relativePath(t, id, opts.rootPath)) : keyOfIno(src),
        mtimeSec: t.get(id, Col.mtimeSec),
        seed: seeding && ok ? src : 0,
      };
    }
    const { numbers, next } = assignNumbers(handle.data, objs, opts.date);
    let highest = ROOTINO;
    for (let id = 1; id < t.count; id++) {
      const n = numbers[id - 1]!;
      t.set(id, Col.ino, n);
      if (n > highest) highest = n;
    }
    return { maxino: highest + 1, mode: 'map', map: { handle, next } };
  } catch (e) {
    await handle.release();
    throw e;
  }
}
