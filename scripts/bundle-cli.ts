/**
 * Bundles the CLI into dist/bundle/ (run by `npm run build` after tsc). Node loads each ES module
 * as a separate file with its own resolution and compile step; ~50 of them cost a backup a
 * noticeable share of its start-up. One entry (src/cli/main.ts) with code splitting keeps each
 * command's dynamic import() a chunk of its own, so a backup still loads no restore or NDMP code.
 *
 * npm dependencies and Node built-ins stay external. Worker scripts (piscina) stay the tsc output
 * in dist/src: they are started by path, not imported. Every `import.meta.url` in the sources is
 * rewritten to the URL of that module's tsc output, so paths derived from it (the worker file,
 * the native addon, package.json) resolve exactly as they do unbundled.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const srcDir = path.join(root, 'src');
const bundleDir = path.join(root, 'dist', 'bundle');

/**
 * `import.meta.url` of src/X.ts becomes the URL of dist/src/X.js, relative to the chunk that
 * holds the code; all chunks sit directly in dist/bundle/, so one relative path fits every chunk
 * and the built tree can be moved as a whole.
 */
function tscOutputUrlExpr(sourceFile: string): string {
  const compiled = path.join(root, 'dist', path.relative(root, sourceFile)).replace(/\.ts$/, '.js');
  const rel = path.relative(bundleDir, compiled).split(path.sep).join('/');
  return `new URL(${JSON.stringify(rel)}, import.meta.url).href`;
}

const importMetaUrlPlugin: Plugin = {
  name: 'import-meta-url-of-tsc-output',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      const text = await fs.promises.readFile(args.path, 'utf8');
      if (!args.path.startsWith(srcDir + path.sep)) throw new Error(`bundle-cli: unexpected source outside src/: ${args.path}`);
      return { contents: text.replace(/\bimport\.meta\.url\b/g, tscOutputUrlExpr(args.path)), loader: 'ts' };
    });
  },
};

async function bundle(): Promise<void> {
  // Stale chunks of an earlier build would only confuse; the directory is wholly ours.
  fs.rmSync(bundleDir, { recursive: true, force: true });
  await build({
    entryPoints: [path.join(srcDir, 'cli', 'main.ts')],
    outdir: bundleDir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    entryNames: '[name]',
    chunkNames: '[name]-[hash]',
    plugins: [importMetaUrlPlugin],
    logLevel: 'warning',
  });
}

await bundle();
