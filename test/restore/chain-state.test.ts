/**
 * The restore state written after an image that starts a chain is taken straight from the name
 * tree (stateTextOfTree); it must be exactly what the general path (tree entries → makeState)
 * gives, hard links and directories included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { S_IFDIR, S_IFMT } from '../../src/format/constants.js';
import { ImageReader } from '../../src/read/image-reader.js';
import { makeState, stateTextOfTree, treeEntries } from '../../src/restore/chain.js';
import { NameTree } from '../../src/restore/tree.js';
import { openTapeSource } from '../../src/tape/source.js';
import type { Header } from '../../src/format/header.js';

const SAMPLES = fileURLToPath(new URL('../../../../shared/samples/linux-dump-0.4b47/', import.meta.url));

async function treeOf(file: string): Promise<{ label: Header; tree: NameTree; maxino: number }> {
  const source = await openTapeSource([file]);
  try {
    let label: Header | null = null;
    let tree: NameTree | null = null;
    let maxino = 0;
    for await (const item of new ImageReader(source)) {
      if (item.kind === 'label') { label = item.header; tree = new NameTree(item.byteOrder === 'le', item.oldInodeFormat); }
      if (item.kind === 'clri') maxino = item.maxino;
      if (item.kind === 'inode') {
        if ((item.header.inode.mode & S_IFMT) !== S_IFDIR) break;
        tree!.addDirectory(item.ino, await item.readAll({ dropHoles: true }), item.header.inode, item.offset, item.complete);
      }
    }
    return { label: label!, tree: tree!, maxino };
  } finally {
    await source.close();
  }
}

for (const name of ['level0.dump', 'quirks.dump', 'synthetic-le.dump', 'synthetic-be.dump']) {
  test(`state from the tree = state from the entries (${name})`, async () => {
    const { label, tree, maxino } = await treeOf(SAMPLES + name);
    const built = tree.build({ maxino, isDumped: () => true, onWarning: () => {} });
    assert.ok(built);
    const general = makeState(label, built.root.ino, treeEntries(built.root));
    const fast = JSON.parse(stateTextOfTree(label, built.root)) as typeof general;
    assert.deepEqual(fast, general);
    assert.ok(Object.keys(fast.inodes).length > 3);
    if (name === 'level0.dump') assert.ok(Object.values(fast.inodes).some((r) => r.paths.length > 1), 'a hard-linked file has several names');
  });
}
