import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { claimContext, contextFile, createContext, isBusy, listContexts, readContext, view, writeContext, type NewContext } from '../../src/context/context-store.js';
import { deleteContext, pruneContexts } from '../../src/context/cleanup.js';
import { restartBlocker } from '../../src/context/context.js';
import { isSnapdumpError } from '../../src/errors.js';
import { removeTree, tempDir } from '../helpers/tree.js';

function fields(over: Partial<NewContext> = {}): NewContext {
  return {
    engine: 'dump', dumpName: '/src', path: '/src', walkRoot: '/src', level: 0, base: null, ignoreCtime: false, update: true,
    exclude: [], junctions: 'symlink', snapshot: null, output: '/out/img', partial: null, sync: false,
    volume: { date: 1, ddate: 0, volume: 1, level: 0, label: 'none', filesys: '/', dev: 'x', host: 'h', ntrec: 10, maxino: 100 },
    offsetMap: true, offsetVerify: true, restartable: true, reason: null, phase: 'files', status: 'running', state: '', checkpoint: { ino: 7, offset: 4096, at: '' },
    ...over,
  };
}

/** The owner record of a process that has exited. */
function deadOwner() {
  const r = spawnSync(process.execPath, ['-e', 'console.log(process.pid)']);
  return { pid: Number(r.stdout.toString()), host: os.hostname(), bootId: null, start: null, acquired: '', token: 't' };
}

describe('context store', () => {
  let state: string;
  before(() => { state = tempDir('contexts'); });
  after(() => removeTree(state));

  it('creates, reads back and lists contexts; the creator holds it (busy)', async () => {
    const ctx = await createContext(state, fields());
    assert.match(ctx.id, /^[0-9a-f-]{36}$/);
    const back = await readContext(state, ctx.id);
    assert.deepEqual(back, ctx);
    assert.equal(isBusy(back), true);
    const { contexts } = await listContexts(state);
    assert.ok(contexts.some((c) => c.id === ctx.id));
  });

  it('a context whose process died is not busy and shows as interrupted', async () => {
    const ctx = await createContext(state, fields());
    ctx.owner = deadOwner();
    await writeContext(state, ctx);
    const v = view(await readContext(state, ctx.id));
    assert.equal(v.busy, false);
    assert.equal(v.status, 'interrupted');
  });

  it('claim refuses a busy context with ERR_BUSY and takes a free one', async () => {
    const busy = await createContext(state, fields());
    await assert.rejects(claimContext(state, busy.id), (e) => isSnapdumpError(e) && e.code === 'ERR_BUSY');
    busy.owner = deadOwner();
    await writeContext(state, busy);
    const claimed = await claimContext(state, busy.id);
    assert.equal(claimed.owner?.pid, process.pid);
  });

  it('unknown and malformed ids and corrupt files give coded errors', async () => {
    await assert.rejects(readContext(state, '00000000-0000-0000-0000-000000000000'), (e) => isSnapdumpError(e) && e.code === 'ERR_CONTEXT');
    await assert.rejects(readContext(state, '../../etc/passwd'), (e) => isSnapdumpError(e) && e.code === 'ERR_CONTEXT');
    const ctx = await createContext(state, fields());
    fs.writeFileSync(contextFile(state, ctx.id, 'json'), '{"version":1}');
    await assert.rejects(readContext(state, ctx.id), (e) => isSnapdumpError(e) && e.code === 'ERR_STATE');
    fs.rmSync(contextFile(state, ctx.id, 'json'));
  });

  it('restartability is judged from phase, checkpoint, history and output', () => {
    const base = { ...fields(), version: 1, id: 'x', owner: null, created: '', lastUpdated: '', cleanupPending: false, restarts: 0 } as const;
    assert.equal(restartBlocker(base), null);
    assert.match(restartBlocker({ ...base, phase: 'directories', checkpoint: null })!, /phase III/);
    assert.match(restartBlocker({ ...base, offsetMap: false })!, /offset map/);
    assert.match(restartBlocker({ ...base, restartable: false, reason: 'the output - is a stream' })!, /stream/);
    assert.match(restartBlocker({ ...base, cleanupPending: true })!, /cleanup pending/);
  });

  it('delete removes the partial image and every file of the context; prune keeps restartable ones', async () => {
    const dir = tempDir('contexts-delete');
    try {
      const partial = path.join(dir, '.img.partial-1');
      fs.writeFileSync(partial, 'x');
      const ctx = await createContext(dir, fields({ partial }));
      fs.writeFileSync(contextFile(dir, ctx.id, 'files'), 'x');
      await assert.rejects(deleteContext(dir, ctx.id), (e) => isSnapdumpError(e) && e.code === 'ERR_BUSY');
      ctx.owner = deadOwner();
      await writeContext(dir, ctx);
      const dead = await createContext(dir, fields({ phase: 'directories', checkpoint: null }));
      dead.owner = deadOwner();
      await writeContext(dir, dead);
      const pruned = await pruneContexts(dir);
      assert.deepEqual(pruned.map((r) => r.id), [dead.id]);
      assert.deepEqual((await deleteContext(dir, ctx.id)).removed, true);
      assert.equal(fs.existsSync(partial), false);
      assert.deepEqual(fs.readdirSync(path.join(dir, 'contexts')), []);
    } finally {
      removeTree(dir);
    }
  });

  it('a snapshot that will not go leaves the context with cleanup pending; a later delete completes it', async () => {
    const dir = tempDir('contexts-pending');
    try {
      const ctx = await createContext(dir, fields({ snapshot: { name: 'snapshot_for_backup.0', path: '/nowhere', autoCreated: true, recordId: null } }));
      ctx.owner = null;
      await writeContext(dir, ctx);
      const r = await deleteContext(dir, ctx.id, async () => { throw new Error('snapshot busy'); });
      assert.equal(r.removed, false);
      const left = await readContext(dir, ctx.id);
      assert.equal(left.cleanupPending, true);
      assert.match(left.state, /snapshot busy/);
      const released: string[] = [];
      const again = await deleteContext(dir, ctx.id, async (c) => { released.push(c.snapshot!.name); });
      assert.equal(again.removed, true);
      assert.deepEqual(released, ['snapshot_for_backup.0']);
    } finally {
      removeTree(dir);
    }
  });
});
