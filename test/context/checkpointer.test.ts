/**
 * When checkpoints happen: the first one an interval into the file phase (a short file phase
 * never waits for the disk), each one syncing the image, then the object list once, then the
 * context; a completed backup leaves no context files.
 */
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Checkpointer } from '../../src/context/checkpointer.js';
import { contextFile, createContext, readContext, type NewContext } from '../../src/context/context-store.js';
import type { TapeSink } from '../../src/tape/sink.js';
import { removeTree, tempDir } from '../helpers/tree.js';

const state = tempDir('checkpointer');
after(() => removeTree(state));

function fields(): NewContext {
  return {
    engine: 'dump', dumpName: '/src', path: '/src', walkRoot: '/src', level: 1, base: null, ignoreCtime: false, update: true,
    exclude: [], junctions: 'symlink', snapshot: null, output: '/out/img', partial: '/out/.img.partial', sync: false,
    volume: { date: 1, ddate: 0, volume: 1, level: 1, label: 'none', filesys: '/', dev: 'x', host: 'h', ntrec: 10, maxino: 100 },
    offsetMap: true, offsetVerify: true, restartable: true, reason: null, phase: 'traverse', status: 'running', state: '', checkpoint: null,
  };
}

function countingSink(): TapeSink & { syncs: number } {
  const sink = { syncs: 0, async syncData() { sink.syncs++; } };
  return sink as unknown as TapeSink & { syncs: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('no checkpoint (and no sync) before an interval of the file phase has passed; then image, list, context', async () => {
  const ctx = await createContext(state, fields());
  const sink = countingSink();
  const events: unknown[] = [];
  const cp = new Checkpointer(state, ctx, sink, 300, null, (c) => events.push(c));
  await cp.setPhase('directories');
  cp.noteInode(2, 0); // directories are in the offset map, but no restart point
  await cp.writeFileList([{ ino: 12, srcIno: 12, type: 0o100000 }]);
  cp.enterFiles();
  cp.noteInode(12, 8192);
  await cp.afterFlush(10240);
  cp.noteInode(13, 10240);
  await cp.afterFlush(12288);
  await cp.settle();
  assert.equal(sink.syncs, 0, 'a file phase shorter than the interval never syncs');
  assert.equal(cp.count, 0);
  assert.equal((await readContext(state, ctx.id)).checkpoint, null);

  await sleep(320);
  cp.noteInode(14, 12288);
  await cp.afterFlush(14336);
  await cp.settle();
  assert.equal(sink.syncs, 1);
  assert.equal(cp.count, 1);
  assert.deepEqual(events.length, 1);
  const saved = await readContext(state, ctx.id);
  assert.equal(saved.phase, 'files');
  assert.equal(saved.checkpoint?.ino, 14, 'the latest object start written before the flush');
  assert.equal(fs.statSync(contextFile(state, ctx.id, 'offsets')).size, 4 * 12, 'the offset map was flushed with it');

  await cp.complete();
  assert.deepEqual(fs.readdirSync(path.join(state, 'contexts')), []);
});

/** A checkpointer with interval 0 in the file phase, after its first write (inode 12 at 8192). */
async function checkpointedOnce() {
  const ctx = await createContext(state, fields());
  const sink = countingSink();
  const cp = new Checkpointer(state, ctx, sink, 0);
  await cp.writeFileList([]);
  cp.enterFiles();
  cp.noteInode(12, 8192);
  await cp.afterFlush(10240);
  return { ctx, sink, cp };
}

it('interval 0: every write is checkpointed at once', async () => {
  const { ctx, sink, cp } = await checkpointedOnce();
  assert.equal(cp.count, 1);
  assert.equal(sink.syncs, 1);
  assert.equal((await readContext(state, ctx.id)).checkpoint?.ino, 12);
  await cp.complete();
});

it('a write reported after the stop starts no checkpoint: the stop\'s record stays the last (not busy)', async () => {
  const { ctx, cp } = await checkpointedOnce();
  assert.equal(cp.count, 1);
  const kept = await cp.stop('interrupted', 'stopped by a signal', 10240);
  assert.equal(kept, true);
  // The tape writer had a second write in flight; it lands now.
  cp.noteInode(13, 10240);
  await cp.afterFlush(12288);
  await cp.settle();
  assert.equal(cp.count, 1, 'no checkpoint after the stop');
  const saved = await readContext(state, ctx.id);
  assert.equal(saved.status, 'interrupted');
  assert.equal(saved.owner, null, 'not busy: a restart can claim it');
  assert.equal(saved.checkpoint?.ino, 12);
});
