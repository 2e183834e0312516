/** Mount points from mountinfo text: field 5, octal escapes undone. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { mountPointsBelow, parseMountinfo } from '../../src/select/mounts.js';

describe('mountinfo', () => {
  test('parseMountinfo takes the mount point field and undoes the escapes', () => {
    const text = [
      '22 27 0:21 / /proc rw,relatime - proc proc rw',
      '99 27 0:50 / /srv/with\\040space rw - tmpfs tmpfs rw',
      '100 27 0:51 /sub /srv/tab\\011and\\134backslash rw - ext4 /dev/x rw',
      '',
    ].join('\n');
    assert.deepEqual(parseMountinfo(text), ['/proc', '/srv/with space', '/srv/tab\tand\\backslash']);
  });

  test('mountPointsBelow lists only mounts strictly below the root', () => {
    const below = mountPointsBelow('/');
    assert.ok(!below.has('/'));
    if (fs.existsSync('/proc/self/mountinfo')) assert.ok(below.has('/proc'));
    assert.deepEqual([...mountPointsBelow('/proc')].filter((p) => !p.startsWith('/proc/')), []);
  });
});
