/**
 * Chains that must not mix, and chains that were interrupted: two dump names on one source
 * (independent bases, an image of one refused on the other's destination), an image of another
 * source (OTHER_DUMP), and an incremental killed at every phase of its application and then
 * applied again to completion.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backup } from '../../src/backup.js';
import { restore } from '../../src/restore/index.js';
import { STATE_FILE, readState } from '../../src/restore/chain.js';
import { listImage } from '../../src/read/list.js';
import { snapdump, snapdumpBin } from '../helpers/cli.js';
import { compareTrees, removeTree, snapshotTree, tempDir, type EntryInfo } from '../helpers/tree.js';

const nextSecond = () => new Promise((r) => setTimeout(r, 1100));
const iso = (sec: number) => new Date(sec * 1000).toISOString().replace('.000Z', 'Z');
const restored = (dest: string) => snapshotTree(dest, { ignore: (rel) => rel === STATE_FILE });
const same = (want: Map<string, EntryInfo>, dest: string, what: string) =>
  assert.deepEqual(compareTrees(want, restored(dest), { mtimeResolutionNs: 1000n }), [], what);

function rejectsChain(reason: string, ...includes: string[]) {
  return (e: Error & { code?: string; details?: Record<string, unknown> }) => {
    assert.equal(e.code, 'ERR_CHAIN', e.message);
    assert.equal(e.details?.reason, reason);
    for (const s of includes) assert.ok(e.message.includes(s), `${e.message}\nshould name ${s}`);
    return true;
  };
}

describe('chains that must not mix', () => {
  let work: string;
  before(() => { work = tempDir('chainmix'); });
  after(() => removeTree(work));

  it('two dump names on one source have independent bases; an image of one is refused on the other\'s chain', async () => {
    const src = path.join(work, 'src');
    const state = path.join(work, 'state');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'first'), '1');
    await nextSecond();
    const take = async (name: string, level: number) => {
      const out = path.join(work, `${name}-${level}.dump`);
      const s = await backup({ source: src, output: out, level, stateDir: state, name });
      return { out, s };
    };
    const a0 = await take('A', 0);
    await nextSecond();
    fs.writeFileSync(path.join(src, 'between'), '2');
    await nextSecond();
    const b0 = await take('B', 0);
    await nextSecond();
    fs.writeFileSync(path.join(src, 'last'), '3');
    const a1 = await take('A', 1);
    const b1 = await take('B', 1);
    assert.deepEqual(a1.s.base, { level: 0, date: a0.s.date });
    assert.deepEqual(b1.s.base, { level: 0, date: b0.s.date });
    const files = async (img: string) => (await listImage({ files: [img] })).entries.filter((e) => e.type !== 'dir').map((e) => e.path).sort();
    // A's level 1 holds what changed since A's level 0, B's since B's.
    assert.deepEqual(await files(a1.out), ['./between', './last']);
    assert.deepEqual(await files(b1.out), ['./last']);
    // Each chain restores the source.
    const want = snapshotTree(src);
    for (const [name, imgs] of [['A', [a0.out, a1.out]], ['B', [b0.out, b1.out]]] as const) {
      const dest = path.join(work, `dest-${name}`);
      for (const img of imgs) assert.equal((await restore({ files: [img], dest })).exitStatus, 0);
      same(want, dest, `chain ${name}`);
    }
    // B's level 1 on a destination where A's level 0 was applied: refused, naming both dates.
    const mixed = path.join(work, 'dest-mixed');
    await restore({ files: [a0.out], dest: mixed });
    const before = restored(mixed);
    await assert.rejects(restore({ files: [b1.out], dest: mixed }),
      rejectsChain('CHAIN_ORDER', `based on the backup of ${iso(b0.s.date)}`, `the last image applied here is from ${iso(a0.s.date)}`));
    const r = snapdump(['restore', '-f', b1.out, '-C', mixed]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /error \[ERR_CHAIN\]: this image is based on the backup of/);
    assert.deepEqual(compareTrees(before, restored(mixed)), [], 'nothing was written');
  });

  it('an incremental of another source is refused (OTHER_DUMP), naming both dumps and dates', async () => {
    const one = path.join(work, 'one');
    const two = path.join(work, 'two');
    const state = path.join(work, 'state-other');
    for (const d of [one, two]) { fs.mkdirSync(d); fs.writeFileSync(path.join(d, 'f'), d); }
    const o0 = await backup({ source: one, output: path.join(work, 'one-0.dump'), stateDir: state });
    await nextSecond(); // distinct dates: the dates are what tells chains apart
    const t0 = await backup({ source: two, output: path.join(work, 'two-0.dump'), stateDir: state });
    await nextSecond();
    fs.writeFileSync(path.join(two, 'g'), 'g');
    const t1 = await backup({ source: two, output: path.join(work, 'two-1.dump'), level: 1, stateDir: state });
    const dest = path.join(work, 'dest-other');
    await restore({ files: [o0.output], dest });
    await assert.rejects(restore({ files: [t1.output], dest }),
      rejectsChain('OTHER_DUMP', 'belongs to another dump', `(dir ${two})`, `(dir ${one})`, iso(t0.date), iso(o0.date)));
    assert.equal(fs.existsSync(path.join(dest, 'g')), false);
  });
});

describe('an interrupted incremental restore', () => {
  let work: string;
  before(() => { work = tempDir('chainresume'); });
  after(() => removeTree(work));

  /** A chain 0,1,2 whose level 1 moves, swaps, replaces and deletes a lot; the source at each. */
  async function makeChain(tag: string, bigData = false): Promise<{ images: string[]; trees: Array<Map<string, EntryInfo>> }> {
    const src = path.join(work, `${tag}-src`);
    const state = path.join(work, `${tag}-state`);
    const p = (rel: string) => path.join(src, rel);
    for (let d = 0; d < 6; d++) {
      fs.mkdirSync(p(`d${d}/sub`), { recursive: true });
      for (let f = 0; f < 5; f++) fs.writeFileSync(p(`d${d}/sub/f${f}`), `${d}.${f}\n`);
      fs.writeFileSync(p(`d${d}/top`), `top ${d}\n`);
    }
    const images: string[] = [];
    const trees: Array<Map<string, EntryInfo>> = [];
    const take = async (level: number) => {
      const out = path.join(work, `${tag}-${level}.dump`);
      const s = await backup({ source: src, output: out, level, stateDir: state, name: tag });
      assert.equal(s.exitStatus, 0);
      images.push(out);
      trees.push(snapshotTree(src));
    };
    await take(0);
    await nextSecond();
    fs.renameSync(p('d0'), p('d1/d0-moved'));
    fs.renameSync(p('d2'), p('swap'));
    fs.renameSync(p('d3'), p('d2'));
    fs.renameSync(p('swap'), p('d3'));
    fs.renameSync(p('d4/sub/f0'), p('d5/f0-moved'));
    fs.rmSync(p('d5/sub'), { recursive: true });
    fs.writeFileSync(p('d5/sub'), 'a file where a directory was\n');
    fs.mkdirSync(p('new/deeper'), { recursive: true });
    fs.renameSync(p('d4/top'), p('new/deeper/top'));
    fs.linkSync(p('d1/top'), p('new/link'));
    for (let i = 0; i < (bigData ? 48 : 3); i++) fs.writeFileSync(p(`new/data${i}`), Buffer.alloc(bigData ? 1 << 20 : 100, i + 1));
    await take(1);
    await nextSecond();
    fs.writeFileSync(p('after'), 'level 2\n');
    fs.rmSync(p('new/link'));
    await take(2);
    return { images, trees };
  }

  for (const point of ['after-moves', 'mid-place', 'before-extract']) {
    it(`killed at ${point}: another image is refused, the same one completes the destination`, async () => {
      const { images, trees } = await makeChain(point);
      const dest = path.join(work, `${point}-dest`);
      assert.equal((await restore({ files: [images[0]!], dest })).exitStatus, 0);
      const killed = snapdump(['restore', '-f', images[1]!, '-C', dest, '--quiet'], { env: { ...process.env, SNAPDUMP_TEST_CRASH: point } });
      assert.equal(killed.status, -1, `killed (${killed.stderr})`);
      assert.equal(readState(dest)?.applying?.phase, point === 'before-extract' ? 'extract' : 'place');
      // The next image of the chain (or any other) must wait for this one.
      const other = snapdump(['restore', '-f', images[2]!, '-C', dest]);
      assert.equal(other.status, 2);
      assert.match(other.stderr, /error \[ERR_CHAIN\]: applying the image of .* was interrupted; apply that image again/);
      const again = await restore({ files: [images[1]!], dest });
      assert.equal(again.exitStatus, 0, JSON.stringify([...again.skipped, ...again.warnings]));
      same(trees[1]!, dest, 'the level 1 applied again');
      assert.deepEqual(fs.readdirSync(dest).filter((n) => n.startsWith('.snapdump-')), [STATE_FILE]);
      assert.equal((await restore({ files: [images[2]!], dest })).exitStatus, 0);
      same(trees[2]!, dest, 'then the level 2');
    });
  }

  for (const signal of ['SIGKILL', 'SIGINT'] as const) {
    it(`${signal} while the data is extracted: applying the image again completes it`, async () => {
      const { images, trees } = await makeChain(`extract-${signal}`, true);
      const dest = path.join(work, `extract-${signal}-dest`);
      await restore({ files: [images[0]!], dest });
      // 48 files of 1 MiB restore in moments: slowed down so that the signal lands in the middle.
      const child = spawn(process.execPath, [snapdumpBin, 'restore', '-f', images[1]!, '-C', dest, '--quiet'], { stdio: 'ignore', env: { ...process.env, SNAPDUMP_TEST_EXTRACT_DELAY_MS: '40' } });
      const exited = new Promise<void>((r) => child.on('exit', () => r()));
      // Wait for the journal to say the names are in place and data is being written.
      for (let i = 0; i < 2000; i++) {
        const s = (() => { try { return readState(dest); } catch { return null; } })();
        if (s?.applying?.phase === 'extract' && fs.existsSync(path.join(dest, 'new/data0'))) break;
        await new Promise((r) => setTimeout(r, 2));
      }
      child.kill(signal);
      await exited;
      assert.equal(readState(dest)?.applying?.phase, 'extract', 'interrupted while extracting');
      const again = await restore({ files: [images[1]!], dest });
      assert.equal(again.exitStatus, 0, JSON.stringify([...again.skipped, ...again.warnings]));
      same(trees[1]!, dest, 'the level 1 applied again');
      assert.equal((await restore({ files: [images[2]!], dest })).exitStatus, 0);
      same(trees[2]!, dest, 'then the level 2');
    });
  }
});
