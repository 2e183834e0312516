/**
 * Test harness for the NDMP server: an in-process server on a random port with temporary
 * volumes and tapes, the real Amanda ndmjob run as a child (judged by its output, never by its
 * exit status), and everything stopped in `close()`.
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig, type NdmpdFlags } from '../../../src/ndmp/config.js';
import { NdmpServer } from '../../../src/ndmp/server.js';
import { repoRoot, sharedDir } from '../../helpers/cli.js';

export const NDMJOB = '/usr/lib/amanda/ndmjob';
export const haveNdmjob = fs.existsSync(NDMJOB);
/** In CI a missing ndmjob is a failure (scripts/test.sh installs amanda-server), elsewhere a skip. */
export const skipNdmjob = haveNdmjob ? false : process.env.CI ? false : 'ndmjob (amanda-server) is not installed';

export interface Harness {
  dir: string;
  port: number;
  server: NdmpServer;
  logs: string[];
  /** AGENT string for ndmjob: 127.0.0.1:PORT/4{t|m},ndmp,ndmp */
  agent(auth?: 't' | 'm'): string;
  close(): Promise<void>;
}

export async function startServer(flags: Partial<NdmpdFlags> & { volumes?: string[]; tapes?: string[] } = {}): Promise<Harness> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ndmpd-test-'));
  const volumes = flags.volumes ?? [`vol=${path.join(dir, 'vol')}`];
  for (const v of volumes) fs.mkdirSync(v.slice(v.indexOf('=') + 1), { recursive: true });
  const tapes = flags.tapes?.length ? flags.tapes : [`tape0=${path.join(dir, 'tape0')}`, `tape1=${path.join(dir, 'tape1')}`];
  for (const t of tapes) {
    const f = t.slice(t.indexOf('=') + 1);
    if (!fs.existsSync(f)) fs.writeFileSync(f, '');
  }
  const config = loadConfig({ listen: '127.0.0.1:0', users: ['ndmp:ndmp'], state: path.join(dir, 'state'), ...flags, volumes, tapes });
  const logs: string[] = [];
  const server = new NdmpServer({ config, log: (m) => logs.push(m) });
  const { port } = await server.listen();
  return {
    dir, port, server, logs,
    agent: (auth = 't') => `127.0.0.1:${port}/4${auth},ndmp,ndmp`,
    async close() {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface NdmjobResult { stdout: string; stderr: string; output: string }

let shims: string | null = null;
let shimsDir: string | null = null;

/** Where this process builds the preload shims; removed when it exits. */
function shimDir(): string {
  if (shimsDir) return shimsDir;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ndmjob-shims-'));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  shimsDir = dir;
  return dir;
}

/** The shared zero-length-write shim alone, and with fix 1 of ndmjob-test-fixes.c (for the tests that show both fixes are needed). */
export function partialTestTapeShims(): { gmalloc0: string; withoutFillDataFix: string } {
  testTapeShims();
  const gm = path.join(shimDir(), 'gmalloc0.so');
  const fix1 = path.join(shimDir(), 'ndmjob-test-fix1.so');
  execFileSync('gcc', ['-shared', '-fPIC', '-O1', '-DWITHOUT_FILL_DATA_FIX', '-o', fix1, path.join(repoRoot, 'test/ndmp/shim/ndmjob-test-fixes.c')]);
  return { gmalloc0: gm, withoutFillDataFix: `${gm} ${fix1}` };
}
/**
 * LD_PRELOAD value for `ndmjob -o test-tape`: the shared zero-length-write shim (NDMP.md §8.1)
 * and test/ndmp/shim/ndmjob-test-fixes.c, which fixes two client-side bugs of the Debian build
 * in the test itself (a signed compare in T-BWR, uninitialised padding in the record pattern);
 * both fail against any server (the shim's comment has the source lines and the runs without it).
 */
export function testTapeShims(): string {
  if (shims) return shims;
  const gm = path.join(shimDir(), 'gmalloc0.so');
  execFileSync('bash', [path.join(sharedDir, 'tools/ndmjob-shim/build.sh'), gm]);
  const fixes = path.join(shimDir(), 'ndmjob-test-fixes.so');
  execFileSync('gcc', ['-shared', '-fPIC', '-O1', '-o', fixes, path.join(repoRoot, 'test/ndmp/shim/ndmjob-test-fixes.c')]);
  shims = `${gm} ${fixes}`;
  return shims;
}

/** Runs ndmjob to completion (killed after `timeoutMs`); resolves with what it printed. */
export function ndmjob(args: string[], opts: { preload?: string; timeoutMs?: number; cwd?: string; onSpawn?: (pid: number) => void } = {}): Promise<NdmjobResult> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    if (opts.preload) env.LD_PRELOAD = opts.preload;
    const child = spawn(NDMJOB, args, { env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const all: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => { out.push(b); all.push(b); });
    child.stderr.on('data', (b: Buffer) => { err.push(b); all.push(b); });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', () => {
      clearTimeout(timer);
      resolve({ stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), output: Buffer.concat(all).toString() });
    });
  });
}

/** The FINAL line of a test-* run, e.g. `FINAL test-tape Passed -- pass=85 warn=0 fail=0 (total 85)`. */
export function finalLine(output: string): string | null {
  const m = /FINAL test-\S+ .*/.exec(output);
  return m ? m[0] : null;
}
