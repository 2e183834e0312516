/** `snapdump history`: its formatting, and the compiled command run in a child process. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ctimeText, formatHistoryJson, formatHistoryText } from '../../src/cli/history-command.js';
import { recordDump } from '../../src/state/dumpdates.js';

const T0 = 1_767_225_600; // Thu 2026-01-01 00:00:00 UTC
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'snapdump-history-'));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

const entries = [
  { name: '/srv/b', level: 1, date: T0 + 86_400 + 3661 },
  { name: '/home/a\tb', level: 0, date: T0 },
  { name: '/srv/b', level: 0, date: T0 + 5 },
  { name: '/home/a\tb', level: 10, date: T0 + 9 * 86_400 },
];

describe('history formatting', () => {
  it('ctime-like dates', () => {
    assert.equal(ctimeText(T0, true), 'Thu Jan  1 00:00:00 2026');
    assert.equal(ctimeText(T0 + 86_400 * 40 + 13 * 3600 + 5 * 60 + 7, true), 'Tue Feb 10 13:05:07 2026');
    assert.equal(ctimeText(0, true), 'Thu Jan  1 00:00:00 1970');
  });

  it('text: sorted by name then level, escaped names, aligned', () => {
    assert.equal(formatHistoryText(entries, { utc: true }),
      '/home/a\\tb   0  Thu Jan  1 00:00:00 2026\n' +
      '/home/a\\tb  10  Sat Jan 10 00:00:00 2026\n' +
      '/srv/b       0  Thu Jan  1 00:00:05 2026\n' +
      '/srv/b       1  Fri Jan  2 01:01:01 2026\n');
    assert.equal(formatHistoryText([]), '');
  });

  it('json: one object per line with the real name', () => {
    const lines = formatHistoryJson(entries).trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines[0], { name: '/home/a\tb', level: 0, date: T0, time: '2026-01-01T00:00:00Z' });
    assert.deepEqual(lines.map((l) => [l.name, l.level]), [['/home/a\tb', 0], ['/home/a\tb', 10], ['/srv/b', 0], ['/srv/b', 1]]);
  });
});

describe('historyCommand, compiled, in a child process', () => {
  const mod = new URL('../../src/cli/history-command.js', import.meta.url).href;
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnSync(process.execPath, ['--input-type=module', '-e', `
      import { historyCommand } from ${JSON.stringify(mod)};
      historyCommand(JSON.parse(process.argv[1])).then((status) => { process.exitCode = status; },
        (e) => { process.stderr.write('[' + e.code + '] ' + e.message + '\\n'); process.exitCode = 2; });`,
    JSON.stringify(args)], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC', ...env } });

  it('prints the recorded history, --json too, with --state or SNAPDUMP_STATE', async () => {
    const dir = path.join(tmpRoot, 'state');
    for (const e of entries) await recordDump(dir, e);
    const text = run(['--state', dir]);
    assert.equal(text.status, 0, text.stderr);
    assert.equal(text.stdout, formatHistoryText(entries, { utc: true }));
    const json = run(['--json'], { SNAPDUMP_STATE: dir });
    assert.equal(json.status, 0, json.stderr);
    assert.equal(json.stdout, formatHistoryJson(entries));
  });

  it('a missing state directory is an empty history; a corrupt file a coded error', () => {
    const missing = run(['--state', path.join(tmpRoot, 'nothing-here')]);
    assert.equal(missing.status, 0, missing.stderr);
    assert.equal(missing.stdout, '');
    const dir = path.join(tmpRoot, 'corrupt');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'dumpdates'), '/a\t40\t1767225600\t2026-01-01T00:00:00Z\n');
    const bad = run(['--state', dir]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^\[ERR_STATE\] .*dumpdates, line 1: bad level "40"/);
    const usage = run(['extra']);
    assert.match(usage.stderr, /^\[ERR_USAGE\]/);
  });
});
