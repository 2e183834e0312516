/**
 * The CLI bundle (dist/bundle, scripts/bundle-cli.ts): bin/snapdump runs it, a backup loads only
 * the backup's chunks, and the paths its modules derive from import.meta.url (package.json, the
 * native addon, the worker script) still resolve. Modules are seen through NODE_DEBUG=esm, which
 * names every ES module Node compiles, worker threads' too.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { repoRoot, snapdump } from '../helpers/cli.js';
import { pseudoRandom, removeTree, run, tempDir } from '../helpers/tree.js';

const bundleDir = path.join(repoRoot, 'dist', 'bundle');
const distSrc = path.join(repoRoot, 'dist', 'src');

/** The files of ES modules a run compiled (NODE_DEBUG=esm lines on stderr), without repeats. */
function loadedModules(stderr: string): string[] {
  const urls = [...stderr.matchAll(/Translating StandardModule (file:\S+)/g)].map((m) => m[1]!);
  return [...new Set(urls)].map((u) => fileURLToPath(u));
}

function traced(args: string[]): { status: number; stdout: string; stderr: string; modules: string[] } {
  const r = snapdump(args, { env: { ...process.env, NODE_DEBUG: 'esm' } });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr, modules: loadedModules(r.stderr) };
}

/** The source files esbuild put into a chunk (it marks each with a `// src/...` comment). */
function sourcesOf(chunk: string): string[] {
  return [...fs.readFileSync(chunk, 'utf8').matchAll(/^\/\/ (src\/\S+\.ts)$/gm)].map((m) => m[1]!);
}

const within = (dir: string) => (f: string) => f.startsWith(dir + path.sep);

describe('CLI bundle', () => {
  let work: string;
  let src: string;
  let state: string;
  before(() => {
    work = tempDir('bundle');
    src = path.join(work, 'src');
    state = path.join(work, 'state');
    fs.mkdirSync(path.join(src, 'd'), { recursive: true });
    fs.writeFileSync(path.join(src, 'a.txt'), 'a\n');
    fs.writeFileSync(path.join(src, 'd', 'b.bin'), pseudoRandom(3 << 20, 7));
    fs.writeFileSync(path.join(src, 'd', 'c.bin'), pseudoRandom(100 << 10, 8));
  });
  after(() => removeTree(work));

  it('is built next to the tsc output', () => {
    assert.ok(fs.existsSync(path.join(bundleDir, 'main.js')), 'npm run build writes dist/bundle/main.js');
    assert.ok(fs.readdirSync(bundleDir).some((f) => f.startsWith('backup-command-')), 'the backup command is a chunk of its own');
  });

  it('runs --version from the bundle, reading package.json beside the tsc output', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    const r = traced(['--version']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `snapdump ${pkg.version}\n`);
    assert.ok(r.modules.includes(path.join(bundleDir, 'main.js')), 'bin/snapdump starts the bundle');
    assert.deepEqual(r.modules.filter(within(distSrc)), [], 'nothing of dist/src is loaded');
  });

  it('bin/snapdump runs the bundle only when it is not older than the tsc output', () => {
    // A stand-in checkout: each entry says which it is.
    const fake = path.join(work, 'checkout');
    fs.mkdirSync(path.join(fake, 'bin'), { recursive: true });
    fs.copyFileSync(path.join(repoRoot, 'bin', 'snapdump'), path.join(fake, 'bin', 'snapdump'));
    fs.writeFileSync(path.join(fake, 'package.json'), '{ "type": "module" }\n');
    const entries = { tsc: path.join(fake, 'dist', 'src', 'cli', 'main.js'), bundle: path.join(fake, 'dist', 'bundle', 'main.js') };
    const which = () => run(process.execPath, [path.join(fake, 'bin', 'snapdump')]);
    assert.equal(which().status, 2, 'not built');
    for (const [name, file] of Object.entries(entries)) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, `export async function main() { process.stdout.write(${JSON.stringify(name)}); return 0; }\n`);
    }
    const at = (file: string, sec: number) => fs.utimesSync(file, sec, sec);
    at(entries.tsc, 1000); at(entries.bundle, 2000);
    assert.equal(which().stdout.toString(), 'bundle');
    at(entries.tsc, 3000);
    assert.equal(which().stdout.toString(), 'tsc', 'a tree rebuilt by tsc alone does not run a stale bundle');
    fs.rmSync(entries.bundle);
    assert.equal(which().stdout.toString(), 'tsc', 'a tree built without the bundle');
  });

  it('bin/snapdump, run as a program, starts Node without NODE_EXTRA_CA_CERTS (no TLS; it costs every start-up)', () => {
    // Node reads the variable before any script runs, and warns when the file cannot be loaded:
    // the warning shows whether the shebang kept it from Node.
    const env = { ...process.env, NODE_EXTRA_CA_CERTS: path.join(work, 'no-such-bundle.pem') };
    const direct = spawnSync(path.join(repoRoot, 'bin', 'snapdump'), ['--version'], { env, encoding: 'utf8' });
    assert.equal(direct.status, 0, direct.stderr);
    assert.match(direct.stdout, /^snapdump /);
    assert.doesNotMatch(direct.stderr, /extra certs/i);
    const viaNode = spawnSync(process.execPath, ['-e', '0'], { env, encoding: 'utf8' });
    assert.match(viaNode.stderr, /Ignoring extra certs/, 'Node itself still reads the variable');
  });

  it('the tsc output still runs by itself (a checkout built without the bundle)', () => {
    const script = `const { main } = await import(${JSON.stringify(pathToFileURL(path.join(distSrc, 'cli', 'main.js')).href)}); process.exitCode = await main(['--version']);`;
    const r = run(process.execPath, ['--input-type=module', '-e', script]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.toString(), /^snapdump \d+\.\d+\.\d+\n$/);
  });

  it('a full backup through the bundle starts the worker pool from dist/src and loads no restore, NDMP or verify code', () => {
    const image = path.join(work, 'l0.dump');
    const r = traced(['backup', src, '-f', image, '--state', state, '--name', 'bundle', '--threads', '2', '--no-snapshot', '--quiet']);
    assert.equal(r.status, 0, r.stderr.split('\n').filter((l) => l.startsWith('snapdump')).join('\n'));
    // The worker script resolves from the pool's chunk to the tsc output (import.meta.url rewrite).
    assert.ok(r.modules.includes(path.join(distSrc, 'workers', 'index.js')), 'the read workers ran dist/src/workers/index.js');
    assert.ok(r.modules.includes(path.join(distSrc, 'workers', 'read-files-batch.js')), 'the workers read small files through the native batch');
    const chunks = r.modules.filter(within(bundleDir));
    assert.ok(chunks.some((f) => path.basename(f).startsWith('backup-command-')));
    const sources = chunks.flatMap(sourcesOf);
    assert.ok(sources.includes('src/backup.ts'), 'the chunks name their sources');
    const foreign = sources.filter((s) => /^src\/(restore|ndmp|verify|read)\//.test(s) || /^src\/cli\/(?!backup-command|main|output|progress)/.test(s));
    assert.deepEqual(foreign, [], 'a backup loads only the backup\'s code');
    // The main thread runs only the bundle: dist/src modules come from the workers alone.
    assert.ok(r.modules.filter(within(distSrc)).every((f) => !f.includes(`${path.sep}cli${path.sep}`)));

    const list = snapdump(['list', '-f', image]);
    assert.equal(list.status, 0, list.stderr);
    for (const name of ['./a.txt', './d/b.bin', './d/c.bin']) assert.match(list.stdout.toString(), new RegExp(`\\s${name.replace(/\./g, '\\.')}\\n`));
  });

  it('an incremental through the bundle reads on the main thread and restores what changed', () => {
    // A second later than the level 0, so the change is after its date.
    const later = new Date(Date.now() + 2000);
    fs.writeFileSync(path.join(src, 'a.txt'), 'a changed\n');
    fs.utimesSync(path.join(src, 'a.txt'), later, later);
    const image = path.join(work, 'l1.dump');
    const r = traced(['backup', src, '-f', image, '-l', '1', '--state', state, '--name', 'bundle', '--no-snapshot', '--quiet']);
    assert.equal(r.status, 0, r.stderr.split('\n').filter((l) => l.startsWith('snapdump')).join('\n'));
    assert.deepEqual(r.modules.filter(within(distSrc)), [], 'no worker started, nothing of dist/src loaded');
    const dest = path.join(work, 'restored');
    fs.mkdirSync(dest);
    // The chain, in order, then --finish (as restore -r).
    for (const args of [['-f', path.join(work, 'l0.dump')], ['-f', image], ['--finish']]) {
      const restored = snapdump(['restore', ...args, '-C', dest]);
      assert.equal(restored.status, 0, restored.stderr);
    }
    assert.equal(fs.readFileSync(path.join(dest, 'a.txt'), 'utf8'), 'a changed\n');
    assert.ok(fs.readFileSync(path.join(dest, 'd', 'b.bin')).equals(pseudoRandom(3 << 20, 7)));
  });
});
