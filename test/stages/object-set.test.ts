/** ObjectSet: objects by (dev, ino), as the walk's exclusions are looked up. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { ObjectSet } from '../../src/stages/object-set.js';

it('finds an object only by both of its numbers', () => {
  const s = new ObjectSet([{ dev: 2049, ino: 12 }, { dev: 64768, ino: 12 }, { dev: 2049, ino: 2 ** 40 + 3 }, { dev: 2049, ino: 12 }]);
  assert.equal(s.empty, false);
  assert.equal(s.has(2049, 12), true);
  assert.equal(s.has(64768, 12), true);
  assert.equal(s.has(2049, 2 ** 40 + 3), true);
  assert.equal(s.has(2050, 12), false);
  assert.equal(s.has(2049, 13), false);
  assert.equal(s.has(64768, 2 ** 40 + 3), false);
  assert.equal(new ObjectSet().empty, true);
  assert.equal(new ObjectSet().has(0, 0), false);
});
