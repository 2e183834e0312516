/**
 * What to restore and where: the operands of the command line (PATH and NEW=OLD, with `\=` for an
 * '=' inside a name), and the plan that maps the image's name tree onto DEST: every directory to
 * create (in pre-order) and, per inode, every destination name.
 */
import { UsageError } from '../errors.js';
import type { RenameSpec } from './types.js';
import { PATH_MAX, joinPath, unsafeName, type DirRecord, type TreeNode } from './tree.js';

/**
 * Splits command-line operands into paths and NEW=OLD renames. In both, `\=` is a literal '='
 * and `\\` a literal backslash; any other backslash is kept as it is. An operand with an
 * unescaped '=' is a rename (the first such '=' separates NEW from OLD).
 */
export function parseOperands(args: readonly string[]): { paths: string[]; renames: RenameSpec[] } {
  const paths: string[] = [];
  const renames: RenameSpec[] = [];
  for (const arg of args) {
    const parts: string[] = [''];
    for (let i = 0; i < arg.length; i++) {
      const c = arg[i]!;
      if (c === '\\' && (arg[i + 1] === '=' || arg[i + 1] === '\\')) {
        parts[parts.length - 1] += arg[++i]!;
      } else if (c === '=' && parts.length === 1) {
        parts.push('');
      } else {
        parts[parts.length - 1] += c;
      }
    }
    if (parts.length === 1) {
      paths.push(parts[0]!);
    } else {
      const [to, from] = parts as [string, string];
      if (to === '' || from === '') throw new UsageError(`"${arg}": a rename is NEW=OLD with both names given (write \\= for an '=' inside a name)`);
      renames.push({ to, from });
    }
  }
  return { paths, renames };
}

/**
 * A path given by the user, relative to the image root or to DEST, as name components.
 * './', '/' prefixes, '.' components and repeated or trailing slashes are ignored; '..' is refused.
 */
export function splitUserPath(p: string, what: string): Buffer[] {
  const out: Buffer[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw new UsageError(`${what} "${p}": '..' is not allowed (paths are relative to the ${what === 'NEW' ? 'destination' : 'image root'})`);
    out.push(Buffer.from(part, 'utf8'));
  }
  return out;
}

function checkRename(r: RenameSpec): { from: Buffer[]; to: Buffer[] } {
  const from = splitUserPath(r.from, 'OLD');
  const to = splitUserPath(r.to, 'NEW');
  if (to.length === 0) throw new UsageError(`NEW in "${r.to}=${r.from}" names no entry below the destination`);
  for (const c of to) {
    const why = unsafeName(c);
    if (why) throw new UsageError(`NEW "${r.to}": ${why}`);
  }
  return { from, to };
}

/** Checks every operand before the image is read (UsageError for '..', empty NEW, NUL bytes). */
export function checkSelection(sel: Selection): void {
  for (const p of sel.paths) {
    if (p.includes('\0')) throw new UsageError(`PATH "${p}" contains a NUL byte`);
    splitUserPath(p, 'PATH');
  }
  for (const r of sel.renames) {
    if (r.from.includes('\0')) throw new UsageError(`OLD "${r.from}" contains a NUL byte`);
    checkRename(r);
  }
}

export interface DirTarget {
  /** Absolute destination path. */
  path: Buffer;
  /** The image directory it restores; null for the parents a rename needs that the image does not give. */
  rec: DirRecord | null;
  /** The directory it is in (null for DEST). */
  parent: DirTarget | null;
  /** Set while creating: the restore made this directory (DEST gets the image root's attributes only then). */
  created: boolean;
  /** Set while creating: 'ok' once it is a checked directory, 'failed' when it could not be made. */
  state: 'pending' | 'ok' | 'failed';
  /**
   * Set while creating: the directory has chattr flags that what is made in it inherits (ext4
   * passes nodump, noatime, sync... down), so those entries need their flags set even where the
   * image's are 0. Attributes of the image's directories come last, so this is about DEST and
   * directories a restore finds in place (an incremental applied over its level 0).
   */
  inheritsFlags?: boolean;
  /** The directory is DEST itself. */
  isDest: boolean;
}

export interface LeafTarget {
  /** Absolute destination path. */
  path: Buffer;
  dir: DirTarget;
  /** The d_type of the name, for reports before the inode's header is read. */
  dtype: number;
}

export interface Plan {
  /** Directories in pre-order (every parent before its children); [0] is DEST. */
  dirs: DirTarget[];
  /** Destination names of every non-directory inode to restore, in tree order. */
  leaves: Map<number, LeafTarget[]>;
  /** Names of the selection that do not exist in the image. */
  notFound: string[];
  /** Names left out because the destination path would be too long. */
  tooLong: Buffer[];
}

export interface Selection {
  paths: readonly string[];
  renames: readonly RenameSpec[];
}


function findNode(root: TreeNode, comps: readonly Buffer[]): TreeNode | null {
  let node = root;
  for (const c of comps) {
    const next = node.children?.find((ch) => ch.name.equals(c));
    if (!next) return null;
    node = next;
  }
  return node;
}

/**
 * Maps the tree onto `dest` (an absolute, symlink-free path). With an empty selection the
 * whole tree is restored; otherwise each named path with its subtree, with its image parents
 * (which get their image attributes when created), and each rename's OLD at NEW.
 */
export function makePlan(root: TreeNode, dest: Buffer, sel: Selection): Plan {
  const dirByPath = new Map<string, DirTarget>();
  const plan: Plan = { dirs: [], leaves: new Map(), notFound: [], tooLong: [] };
  const key = (p: Buffer) => p.toString('latin1');
  const destTarget: DirTarget = { path: dest, rec: root.dir, parent: null, created: false, state: 'pending', isDest: true };
  dirByPath.set(key(dest), destTarget);
  plan.dirs.push(destTarget);

  const join = joinPath;
  const addDir = (path: Buffer, rec: DirRecord | null, parent: DirTarget): DirTarget => {
    const k = key(path);
    let t = dirByPath.get(k);
    if (!t) {
      t = { path, rec, parent, created: false, state: 'pending', isDest: false };
      dirByPath.set(k, t);
      plan.dirs.push(t);
    } else if (!t.rec && rec) {
      t.rec = rec;
    }
    return t;
  };
  // Two entries of the same name for different inodes (hostile images) both stay: the later
  // inode replaces the earlier one, as restore does. The same name twice for one inode (a path
  // selected twice, or a repeated entry) is one name.
  const addLeaf = (node: TreeNode, path: Buffer, dir: DirTarget) => {
    let list = plan.leaves.get(node.ino);
    if (!list) plan.leaves.set(node.ino, list = []);
    else if (list.some((t) => t.path.equals(path))) return;
    list.push({ path, dir, dtype: node.dtype });
  };
  /** The node (dir or leaf) and everything below it, placed at `path` inside `parent`. */
  const addSubtree = (node: TreeNode, path: Buffer, parent: DirTarget) => {
    if (path.length > PATH_MAX) { plan.tooLong.push(path); return; }
    if (!node.dir) { addLeaf(node, path, parent); return; }
    const stack: Array<{ node: TreeNode; target: DirTarget }> = [{ node, target: addDir(path, node.dir, parent) }];
    while (stack.length > 0) {
      const { node: n, target } = stack.pop()!;
      const subdirs: Array<{ node: TreeNode; target: DirTarget }> = [];
      for (const ch of n.children ?? []) {
        const p = join(target.path, ch.name);
        if (p.length > PATH_MAX) { plan.tooLong.push(p); continue; }
        if (ch.dir) subdirs.push({ node: ch, target: addDir(p, ch.dir, target) });
        else addLeaf(ch, p, target);
      }
      for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
    }
  };

  if (sel.paths.length === 0 && sel.renames.length === 0) {
    for (const ch of root.children ?? []) addSubtree(ch, join(dest, ch.name), destTarget);
    // addSubtree adds directories depth first per top-level entry: still a valid pre-order.
    return plan;
  }
  for (const p of sel.paths) {
    const comps = splitUserPath(p, 'PATH');
    const node = findNode(root, comps);
    if (!node) { plan.notFound.push(p); continue; }
    let parent = destTarget;
    let cur = dest;
    // The image parents of the named entry, created with their attributes.
    let n: TreeNode = root;
    for (const c of comps.slice(0, -1)) {
      n = n.children!.find((ch) => ch.name.equals(c))!;
      cur = join(cur, c);
      parent = addDir(cur, n.dir, parent);
    }
    if (comps.length === 0) {
      for (const ch of root.children ?? []) addSubtree(ch, join(dest, ch.name), destTarget);
    } else {
      addSubtree(node, join(cur, comps[comps.length - 1]!), parent);
    }
  }
  for (const r of sel.renames) {
    const { from, to } = checkRename(r);
    const node = findNode(root, from);
    if (!node) { plan.notFound.push(r.from); continue; }
    let parent = destTarget;
    let cur = dest;
    for (const c of to.slice(0, -1)) {
      cur = join(cur, c);
      parent = addDir(cur, null, parent);
    }
    const target = join(cur, to[to.length - 1]!);
    if (node === root) {
      const t = addDir(target, root.dir, parent);
      for (const ch of root.children ?? []) addSubtree(ch, join(target, ch.name), t);
    } else {
      addSubtree(node, target, parent);
    }
  }
  return plan;
}

