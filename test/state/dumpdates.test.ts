/** The dumpdates file: its format, strict reading, the choice of base, and recordDump. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  escapeName, findBase, formatDumpdates, parseDumpdates, readDumpdates, recordDump, unescapeName,
  type DumpdatesEntry,
} from '../../src/state/dumpdates.js';
import { SnapdumpError } from '../../src/errors.js';

const T0 = 1_767_225_600; // 2026-01-01T00:00:00Z
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'snapdump-dumpdates-'));
let counter = 0;
const freshDir = () => path.join(tmpRoot, `s${counter++}`);
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

function codeOf(fn: () => unknown): { code: string; message: string; details: Record<string, unknown> } {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SnapdumpError, `a SnapdumpError, not ${String(e)}`);
    return { code: e.code, message: e.message, details: e.details };
  }
  assert.fail('expected an error');
}

describe('base selection, recorded one backup after the other', () => {
  async function runOrder(levels: number[]): Promise<Array<number | null>> {
    const dir = freshDir();
    const bases: Array<number | null> = [];
    const lastDate = new Map<number, number>();
    for (const [i, level] of levels.entries()) {
      const base = findBase(await readDumpdates(dir), '/data', level);
      bases.push(base === null ? null : base.level);
      // The base is the latest backup of that level: its date is the one recorded last for it.
      if (base) assert.equal(base.date, lastDate.get(base.level));
      await recordDump(dir, { name: '/data', level, date: T0 + i * 3600 });
      await recordDump(dir, { name: '/other', level: 0, date: T0 + i * 3600 + 1 }); // never a base of /data
      lastDate.set(level, T0 + i * 3600);
    }
    return bases;
  }

  it('0,2,3,1,4: bases are none, 2→0, 3→2, 1→0, 4→1', async () => {
    assert.deepEqual(await runOrder([0, 2, 3, 1, 4]), [null, 0, 2, 0, 1]);
  });

  it('0,1,1,1: every 1 is based on the 0, at the date of the 0', async () => {
    const dir = freshDir();
    await recordDump(dir, { name: '/data', level: 0, date: T0 });
    for (let i = 1; i <= 3; i++) {
      const base = findBase(await readDumpdates(dir), '/data', 1);
      assert.deepEqual(base, { name: '/data', level: 0, date: T0 });
      await recordDump(dir, { name: '/data', level: 1, date: T0 + i * 3600 });
    }
    // One line per (name, level): the three level 1 backups share a line, holding the last date.
    assert.deepEqual(await readDumpdates(dir), [
      { name: '/data', level: 0, date: T0 },
      { name: '/data', level: 1, date: T0 + 3 * 3600 },
    ]);
  });

  it('a lower level keeps the higher lines, as Linux dump -u does, and they never become bases', async () => {
    const dir = freshDir();
    for (const [i, level] of [0, 2, 3, 1].entries()) await recordDump(dir, { name: '/data', level, date: T0 + i * 10 });
    const entries = await readDumpdates(dir);
    assert.deepEqual(entries.map((e) => e.level), [0, 2, 3, 1]);
    // Levels 2 and 3 above the new 1 are older than it: every level above 1 is based on the 1.
    for (const level of [2, 3, 4, 31]) assert.equal(findBase(entries, '/data', level)?.level, 1, `level ${level}`);
    assert.equal(findBase(entries, '/data', 1)?.level, 0);
  });

  it('findBase: no lower level, other names, level 0, equal dates, bad level', () => {
    const e: DumpdatesEntry[] = [
      { name: '/a', level: 0, date: T0 }, { name: '/a', level: 1, date: T0 }, { name: '/b', level: 0, date: T0 + 99 },
    ];
    assert.equal(findBase(e, '/a', 0), null);
    assert.equal(findBase(e, '/c', 5), null);
    assert.equal(findBase([{ name: '/a', level: 3, date: T0 }], '/a', 2), null);
    assert.equal(findBase(e, '/a', 2)?.level, 1, 'equal dates: the higher level');
    assert.equal(codeOf(() => findBase(e, '/a', 32)).code, 'ERR_LEVEL');
  });
});

describe('names round-trip', () => {
  const names = [
    '/home/alice', 'with space', ' lead and trail ', 'tab\there', 'new\nline', 'cr\rhere', 'back\\slash',
    '\\t not a tab', 'trailing\\', '#hash first', 'mid#hash', 'ünïcødé/日本語/🎉', 'ctl\x01\x1f\x7f\x00', '\\x41',
  ];

  it('escapeName/unescapeName are inverse, and escaped names have no tab, newline or control char', () => {
    for (const n of names) {
      const esc = escapeName(n);
      assert.ok(!/[\x00-\x1f\x7f]/.test(esc), JSON.stringify(esc));
      assert.ok(!esc.startsWith('#'));
      assert.equal(unescapeName(esc), n);
    }
    assert.equal(escapeName('/home/alice smith'), '/home/alice smith', 'ordinary names stay verbatim');
  });

  it('through the file, via recordDump and readDumpdates', async () => {
    const dir = freshDir();
    for (const [i, name] of names.entries()) await recordDump(dir, { name, level: i % 32, date: T0 + i });
    const back = await readDumpdates(dir);
    assert.deepEqual(back.map((e) => e.name), names);
    assert.deepEqual(back.map((e) => e.level), names.map((_, i) => i % 32));
    assert.equal(fs.readFileSync(path.join(dir, 'dumpdates'), 'utf8').split('\n').length, names.length + 2);
  });

  it('the file format', () => {
    const text = formatDumpdates([{ name: '/home/a b', level: 0, date: T0 }, { name: 'x\ty\\', level: 12, date: T0 + 61 }]);
    const lines = text.split('\n');
    assert.match(lines[0]!, /^# snapdump dumpdates v1/);
    assert.equal(lines[1], '/home/a b\t0\t1767225600\t2026-01-01T00:00:00Z');
    assert.equal(lines[2], 'x\\ty\\\\\t12\t1767225661\t2026-01-01T00:01:01Z');
    assert.equal(lines[3], '');
  });

  it('bad names are refused when recording', async () => {
    const dir = freshDir();
    await assert.rejects(recordDump(dir, { name: '', level: 0, date: T0 }), { code: 'ERR_USAGE' });
    await assert.rejects(recordDump(dir, { name: 'lone\uD800', level: 0, date: T0 }), { code: 'ERR_USAGE' });
  });
});

describe('strict reading', () => {
  const good = '/a\t0\t1767225600\t2026-01-01T00:00:00Z';
  const cases: Array<[string, string, RegExp]> = [
    ['wrong field count (3)', '/a\t0\t1767225600', /expected 4 tab-separated fields.*found 3/],
    ['wrong field count (5)', `${good}\textra`, /found 5/],
    ['blank line', '', /found 1/],
    ['space-separated (Linux dumpdates)', '/dev/sda1 0 Thu Jan  1 00:00:00 2026', /found 1/],
    ['level 32', '/a\t32\t1767225600\t2026-01-01T00:00:00Z', /bad level "32"/],
    ['level -1', '/a\t-1\t1767225600\t2026-01-01T00:00:00Z', /bad level "-1"/],
    ['level x', '/a\tx\t1767225600\t2026-01-01T00:00:00Z', /bad level "x"/],
    ['level 07', '/a\t07\t1767225600\t2026-01-01T00:00:00Z', /bad level "07"/],
    ['date not a number', '/a\t0\tyesterday\t2026-01-01T00:00:00Z', /bad date "yesterday"/],
    ['negative date', '/a\t0\t-5\t1969-12-31T23:59:55Z', /bad date "-5"/],
    ['fractional date', '/a\t0\t1767225600.5\t2026-01-01T00:00:00Z', /bad date/],
    ['date out of range', '/a\t0\t99999999999999\t2026-01-01T00:00:00Z', /bad date/],
    ['time disagrees with date', '/a\t0\t1767225600\t2026-01-02T00:00:00Z', /does not match date 1767225600/],
    ['truncated time', '/a\t0\t1767225600\t2026-01-01T00:0', /does not match/],
    ['CRLF line end', `${good}\r`, /does not match/],
    ['bad escape', '/a\\q\t0\t1767225600\t2026-01-01T00:00:00Z', /bad name/],
    ['bad hex escape', '/a\\x4\t0\t1767225600\t2026-01-01T00:00:00Z', /bad name/],
    ['trailing backslash', '/a\\\t0\t1767225600\t2026-01-01T00:00:00Z', /bad name/],
    ['raw control character', '/a\x01\t0\t1767225600\t2026-01-01T00:00:00Z', /bad name/],
    ['empty name', '\t0\t1767225600\t2026-01-01T00:00:00Z', /bad name/],
    ['duplicate name and level', good, /second entry for "\/a" level 0 \(first on line 2\)/],
  ];
  for (const [what, bad, re] of cases) {
    it(`${what}: ERR_STATE naming the file and line 3`, async () => {
      const dir = freshDir();
      fs.mkdirSync(dir);
      const file = path.join(dir, 'dumpdates');
      fs.writeFileSync(file, `# comment\n${good}\n${bad}\n/b\t1\t1767225600\t2026-01-01T00:00:00Z\n`);
      await assert.rejects(readDumpdates(dir), (e: unknown) => {
        assert.ok(e instanceof SnapdumpError);
        assert.equal(e.code, 'ERR_STATE');
        assert.match(e.message, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, line 3: `));
        assert.match(e.message, re);
        assert.deepEqual(e.details, { path: file, line: 3 });
        return true;
      });
      // A corrupt file is never overwritten by a later backup either.
      await assert.rejects(recordDump(dir, { name: '/c', level: 0, date: T0 }), { code: 'ERR_STATE' });
      assert.equal(fs.readFileSync(file, 'utf8').includes('/c'), false);
    });
  }

  it('accepts comments, a missing final newline, and a missing file or directory', async () => {
    assert.deepEqual(parseDumpdates(`# x\n#\n${good}`, 'f'), [{ name: '/a', level: 0, date: T0 }]);
    assert.deepEqual(parseDumpdates('', 'f'), []);
    assert.deepEqual(await readDumpdates(path.join(tmpRoot, 'does-not-exist')), []);
  });

  it('a state path that is a file is ERR_STATE', async () => {
    const file = path.join(tmpRoot, `plain-file-${counter++}`);
    fs.writeFileSync(file, '');
    await assert.rejects(readDumpdates(file), { code: 'ERR_STATE' });
    await assert.rejects(recordDump(file, { name: '/a', level: 0, date: T0 }), { code: 'ERR_STATE' });
  });
});

describe('recordDump validation', () => {
  it('level outside 0..31 is ERR_LEVEL and writes nothing', async () => {
    const dir = freshDir();
    for (const level of [-1, 32, 1.5, NaN]) {
      await assert.rejects(recordDump(dir, { name: '/a', level, date: T0 }), { code: 'ERR_LEVEL' });
    }
    assert.equal(fs.existsSync(dir), false);
  });

  it('replaces the line of (name, level) in place and keeps the others in order', async () => {
    const dir = freshDir();
    await recordDump(dir, { name: '/a', level: 0, date: T0 });
    await recordDump(dir, { name: '/b', level: 0, date: T0 + 1 });
    await recordDump(dir, { name: '/a', level: 0, date: T0 + 2 });
    assert.deepEqual(await readDumpdates(dir), [{ name: '/a', level: 0, date: T0 + 2 }, { name: '/b', level: 0, date: T0 + 1 }]);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['dumpdates'], 'no temp or lock file left');
  });
});
