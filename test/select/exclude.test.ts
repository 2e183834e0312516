/** Exclusion patterns (ONTAP EXCLUDE rules): parsing, errors, matching. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ExcludeMatcher, MAX_EXCLUDE_PATTERNS, excludeMatcher, parseExcludePattern, splitExcludeList } from '../../src/select/exclude.js';
import { SnapdumpError } from '../../src/errors.js';

function errorReason(fn: () => unknown): string {
  try { fn(); } catch (e) {
    assert.ok(e instanceof SnapdumpError);
    assert.equal(e.code, 'ERR_EXCLUDE');
    return String(e.details.reason);
  }
  assert.fail('no error');
}

const m = (...patterns: string[]) => excludeMatcher(patterns);

describe('splitExcludeList (the ONTAP EXCLUDE form)', () => {
  test('commas separate, \\, is a comma, other escapes stay for the pattern', () => {
    assert.deepEqual(splitExcludeList('a,b,*.tmp'), ['a', 'b', '*.tmp']);
    assert.deepEqual(splitExcludeList('x\\,y,z'), ['x,y', 'z']);
    assert.deepEqual(splitExcludeList('a\\\\,b'), ['a\\\\', 'b'], 'an escaped backslash before a separator');
    assert.deepEqual(splitExcludeList('a\\*b'), ['a\\*b']);
    assert.deepEqual(splitExcludeList('end\\'), ['end\\'], 'a trailing backslash is itself');
  });

  test('empty patterns and more than 32 are refused', () => {
    assert.equal(errorReason(() => splitExcludeList('a,,b')), 'EMPTY');
    assert.equal(errorReason(() => splitExcludeList('a,')), 'EMPTY');
    assert.equal(errorReason(() => splitExcludeList('')), 'EMPTY');
    const names = Array.from({ length: MAX_EXCLUDE_PATTERNS }, (_, i) => `n${i}`);
    assert.equal(splitExcludeList(names.join(',')).length, 32);
    assert.equal(errorReason(() => splitExcludeList([...names, 'one-more'].join(','))), 'TOO_MANY');
    assert.equal(errorReason(() => excludeMatcher([...names, 'x'])), 'TOO_MANY');
  });

  test('property: any list of names survives escaping, joining and splitting', () => {
    const name = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes('*') && !s.includes('/'));
    fc.assert(fc.property(fc.array(name, { minLength: 1, maxLength: 32 }), (names) => {
      const list = names.map((n) => n.replace(/\\/g, '\\\\').replace(/,/g, '\\,')).join(',');
      const back = splitExcludeList(list).map((p) => parseExcludePattern(p));
      assert.deepEqual(back.map((p) => (p.shape === 'exact' && !p.path ? p.text : null)), names);
    }));
  });
});

describe('parseExcludePattern', () => {
  test('* only first or last', () => {
    assert.equal(parseExcludePattern('core').shape, 'exact');
    assert.equal(parseExcludePattern('*.tmp').shape, 'suffix');
    assert.equal(parseExcludePattern('cache*').shape, 'prefix');
    assert.equal(parseExcludePattern('*old*').shape, 'contains');
    assert.equal(parseExcludePattern('*').shape, 'any');
    assert.equal(parseExcludePattern('**').shape, 'any');
    for (const bad of ['a*b', '*a*b', 'a**', '***', '*a*b*']) assert.equal(errorReason(() => parseExcludePattern(bad)), 'WILDCARD_POSITION', bad);
    assert.equal(parseExcludePattern('a\\*b').text, 'a*b', 'an escaped asterisk is literal anywhere');
  });

  test('a / makes it a path pattern; the root cannot be excluded', () => {
    const p = parseExcludePattern('/home/bob/');
    assert.equal(p.path, true);
    assert.equal(p.text, 'home/bob');
    assert.equal(errorReason(() => parseExcludePattern('/')), 'ROOT');
    assert.equal(errorReason(() => parseExcludePattern('')), 'EMPTY');
  });
});

describe('ExcludeMatcher', () => {
  test('name patterns match names at any depth, not paths', () => {
    const x = m('*.tmp', 'core', 'cache*', '*old*');
    for (const n of ['a.tmp', '.tmp', 'core', 'cache', 'cache.d', 'my-old-stuff', 'old']) assert.ok(x.match(n, `dir/${n}`), n);
    for (const n of ['a.tmp2', 'core.1', 'xcache', 'ol-d']) assert.equal(x.match(n, `dir/${n}`), null, n);
  });

  test('path patterns match the path relative to the source', () => {
    const x = m('home/bob/tmp', 'var/*', '*/build');
    assert.ok(x.match('tmp', 'home/bob/tmp'));
    assert.equal(x.match('tmp', 'home/alice/tmp'), null);
    assert.equal(x.match('var', 'var'), null, 'var/* leaves var itself');
    assert.ok(x.match('log', 'var/log'));
    assert.ok(x.match('build', 'src/app/build'));
    assert.ok(x.needsPaths);
  });

  test('raw (non-UTF-8) names are compared as bytes', () => {
    const x = m('caf\u00e9*');
    assert.ok(x.match(Buffer.from('caf\u00e9-bar', 'utf8')));
    assert.equal(x.match(Buffer.from([0x63, 0x61, 0x66, 0xe9])), null, 'latin1 é is not UTF-8 é');
    assert.ok(m('*.bin').match(Buffer.from([0xff, 0x2e, 0x62, 0x69, 0x6e])));
  });

  test('property: prefix/suffix/contains agree with string operations', () => {
    fc.assert(fc.property(fc.string({ minLength: 1, maxLength: 6 }).filter((s) => !/[*\\/,]/.test(s)), fc.string({ maxLength: 10 }), (lit, name) => {
      assert.equal(m(`${lit}*`).match(name) !== null, name.startsWith(lit));
      assert.equal(m(`*${lit}`).match(name) !== null, name.endsWith(lit));
      assert.equal(m(`*${lit}*`).match(name) !== null, name.includes(lit));
      assert.equal(m(lit).match(name) !== null, name === lit);
    }));
  });

  test('no patterns: nothing excluded', () => {
    const x = new ExcludeMatcher([]);
    assert.ok(x.empty);
    assert.equal(x.match('anything', 'a/anything'), null);
  });
});
