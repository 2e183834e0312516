import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';

import {
  clampTime, decodeRdev, devMajor, devMinor, encodeRdev, inodeFromStat, type FieldWarning, type StatLike,
} from '../../src/format/inode-fields.js';

const NS = 1_000_000_000n;

/** glibc's makedev (sysdeps/unix/sysv/linux/sys/sysmacros.h), computed independently. */
function makedev(major: number, minor: number): number {
  const M = BigInt(major);
  const m = BigInt(minor);
  return Number(((M & 0xfffff000n) << 32n) | ((M & 0xfffn) << 8n) | ((m & 0xffffff00n) << 12n) | (m & 0xffn));
}

/** Nanoseconds since the epoch → the (seconds, nanoseconds) pair stat(2) gives. */
function secNsec(ns: bigint): [number, number] {
  let sec = ns / NS;
  let rem = ns % NS;
  if (rem < 0n) { rem += NS; sec -= 1n; }
  return [Number(sec), Number(rem)];
}

/** clampTime applied to a time given in nanoseconds. */
function splitTime(ns: bigint, field: string, w: FieldWarning[]): { sec: number; usec: number } {
  const [sec, nsec] = secNsec(ns);
  return clampTime(sec, nsec, field, w);
}

type StatNs = Omit<StatLike, 'atimeSec' | 'atimeNsec' | 'mtimeSec' | 'mtimeNsec' | 'ctimeSec' | 'ctimeNsec'> & { atimeNs: bigint; mtimeNs: bigint; ctimeNs: bigint };

function stat(over: Partial<StatNs> = {}): StatLike {
  const s: StatNs = {
    mode: 0o100644, nlink: 1, uid: 0, gid: 0, rdev: 0, size: 0, blocks: 0,
    atimeNs: 1_700_000_000n * NS, mtimeNs: 1_700_000_000n * NS, ctimeNs: 1_700_000_000n * NS, ...over,
  };
  const [atimeSec, atimeNsec] = secNsec(s.atimeNs);
  const [mtimeSec, mtimeNsec] = secNsec(s.mtimeNs);
  const [ctimeSec, ctimeNsec] = secNsec(s.ctimeNs);
  return { mode: s.mode, nlink: s.nlink, uid: s.uid, gid: s.gid, rdev: s.rdev, size: s.size, blocks: s.blocks, atimeSec, atimeNsec, mtimeSec, mtimeNsec, ctimeSec, ctimeNsec };
}

describe('clampTime (via nanoseconds)', () => {
  test('ordinary and sub-second times keep microseconds (truncated)', () => {
    const w: FieldWarning[] = [];
    assert.deepEqual(splitTime(0n, 'mtime', w), { sec: 0, usec: 0 });
    assert.deepEqual(splitTime(999n, 'mtime', w), { sec: 0, usec: 0 });
    assert.deepEqual(splitTime(1_000n, 'mtime', w), { sec: 0, usec: 1 });
    assert.deepEqual(splitTime(1_500_000_999n, 'mtime', w), { sec: 1, usec: 500_000 });
    // 2001-02-03 04:05:06.123456789
    assert.deepEqual(splitTime(981173106_123456789n, 'mtime', w), { sec: 981173106, usec: 123456 });
    // 2040 is past int32 but fits the unsigned field.
    assert.deepEqual(splitTime(2208988800n * NS, 'mtime', w), { sec: 2208988800, usec: 0 });
    assert.deepEqual(splitTime(0xffffffffn * NS + 999_999_999n, 'mtime', w), { sec: 0xffffffff, usec: 999_999 });
    assert.deepEqual(w, []);
  });

  test('before 1970: clamped to 0 with a warning naming the field', () => {
    const w: FieldWarning[] = [];
    assert.deepEqual(splitTime(-1n, 'atime', w), { sec: 0, usec: 0 });
    assert.deepEqual(splitTime(-500_000_000n, 'mtime', w), { sec: 0, usec: 0 });
    assert.deepEqual(splitTime(-315619200n * NS, 'ctime', w), { sec: 0, usec: 0 }, '1960 must not become 2096');
    assert.deepEqual(w.map((x) => x.field), ['atime', 'mtime', 'ctime']);
    assert.ok(w.every((x) => /1970/.test(x.message)));
  });

  test('after 2106: clamped to the last representable microsecond with a warning', () => {
    const w: FieldWarning[] = [];
    assert.deepEqual(splitTime(0x100000000n * NS, 'mtime', w), { sec: 0xffffffff, usec: 999_999 });
    assert.deepEqual(splitTime(10_000_000_000n * NS + 5n, 'atime', w), { sec: 0xffffffff, usec: 999_999 });
    assert.deepEqual(w.map((x) => x.field), ['mtime', 'atime']);
    assert.ok(w.every((x) => /2106/.test(x.message)));
  });

  test('property: in-range times split exactly', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 0xffffffffn * NS + 999_999_999n }), (ns) => {
      const w: FieldWarning[] = [];
      const r = splitTime(ns, 'mtime', w);
      assert.deepEqual(w, []);
      assert.equal(BigInt(r.sec), ns / NS);
      assert.equal(BigInt(r.usec), (ns % NS) / 1000n);
      assert.ok(r.usec >= 0 && r.usec < 1_000_000);
    }));
  });
});

describe('clampTime (seconds + nanoseconds as stat gives them)', () => {
  test('in range, truncated to microseconds', () => {
    const w: FieldWarning[] = [];
    assert.deepEqual(clampTime(5, 999, 'mtime', w), { sec: 5, usec: 0 });
    assert.deepEqual(clampTime(5, 1_999, 'mtime', w), { sec: 5, usec: 1 });
    assert.deepEqual(clampTime(0, 999_999_999, 'mtime', w), { sec: 0, usec: 999_999 });
    assert.deepEqual(clampTime(0xffffffff, 999_999_999, 'mtime', w), { sec: 0xffffffff, usec: 999_999 });
    assert.deepEqual(w, []);
  });

  test('out of range: clamped with warnings', () => {
    const w: FieldWarning[] = [];
    assert.deepEqual(clampTime(-1, 999_999_999, 'atime', w), { sec: 0, usec: 0 });
    assert.deepEqual(clampTime(0x100000000, 0, 'ctime', w), { sec: 0xffffffff, usec: 999_999 });
    assert.deepEqual(w.map((x) => x.field), ['atime', 'ctime']);
  });
});

describe('device numbers', () => {
  test('devMajor / devMinor of known glibc dev_t values', () => {
    const known: Array<[dev: number, major: number, minor: number]> = [
      [259, 1, 3], // /dev/null
      [2048, 8, 0], // /dev/sda
      [1793, 7, 1], // /dev/loop1
      [66304, 259, 0], // /dev/nvme0n1
      [286338160, 300, 70000],
      [0, 0, 0],
    ];
    for (const [dev, major, minor] of known) {
      assert.equal(makedev(major, minor), dev, `makedev(${major}, ${minor})`);
      assert.equal(devMajor(dev), major, `major of ${dev}`);
      assert.equal(devMinor(dev), minor, `minor of ${dev}`);
    }
  });

  test('property: Linux-range devices (12-bit major, 20-bit minor) decode', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 4095 }), fc.integer({ min: 0, max: (1 << 20) - 1 }), (major, minor) => {
      const dev = makedev(major, minor);
      assert.equal(devMajor(dev), major);
      assert.equal(devMinor(dev), minor);
    }));
  });

  test('devMajor of glibc dev_t values with majors beyond 12 bits', () => {
    for (const [major, minor] of [[4096, 5], [70000, 3], [1 << 20, 0]] as const) {
      assert.equal(devMajor(makedev(major, minor)), major);
    }
  });

  test('devMinor of glibc dev_t values with majors beyond 12 bits',
    () => {
      for (const [major, minor] of [[4096, 5], [70000, 3], [1 << 20, 0]] as const) {
        assert.equal(devMinor(makedev(major, minor)), minor, `makedev(${major}, ${minor})`);
      }
    });

  test('encodeRdev: old 16-bit encoding when both parts fit a byte', () => {
    assert.equal(encodeRdev(0, 0), 0);
    assert.equal(encodeRdev(1, 3), 0x0103);
    assert.equal(encodeRdev(8, 16), 0x0810);
    assert.equal(encodeRdev(255, 255), 0xffff);
  });

  test('encodeRdev: Linux 32-bit encoding for larger numbers (= low 32 bits of makedev)', () => {
    assert.equal(encodeRdev(300, 70000), 286338160);
    assert.equal(encodeRdev(256, 0), 0x10000);
    assert.equal(encodeRdev(0, 256), 0x100000);
    assert.equal(encodeRdev(4095, (1 << 20) - 1), 0xffffffff);
    fc.assert(fc.property(fc.integer({ min: 0, max: 4095 }), fc.integer({ min: 0, max: (1 << 20) - 1 }), (major, minor) => {
      const r = encodeRdev(major, minor)!;
      assert.ok(r >= 0 && r <= 0xffffffff);
      assert.equal(r, makedev(major, minor));
      assert.deepEqual(decodeRdev(r), { major, minor });
    }));
  });

  test('encodeRdev refuses what 32 bits cannot hold', () => {
    assert.equal(encodeRdev(4096, 0), null);
    assert.equal(encodeRdev(0, 1 << 20), null);
    assert.equal(encodeRdev(5000, 70000), null);
  });

  test('decodeRdev of the values Linux dump writes', () => {
    assert.deepEqual(decodeRdev(0x0103), { major: 1, minor: 3 });
    assert.deepEqual(decodeRdev(0x0701), { major: 7, minor: 1 });
    assert.deepEqual(decodeRdev(286338160), { major: 300, minor: 70000 });
    assert.deepEqual(decodeRdev(0), { major: 0, minor: 0 });
  });
});

describe('inodeFromStat', () => {
  test('a regular file: every field', () => {
    const w: FieldWarning[] = [];
    const ino = inodeFromStat(stat({
      mode: 0o100640, nlink: 3, uid: 70000, gid: 70001, size: 2 ** 40 + 7, blocks: 123456,
      atimeNs: 1015218367_000_001_000n, mtimeNs: 981173106_123456789n, ctimeNs: 1795311505n * NS,
      rdev: 0x0103,
    }), w);
    assert.deepEqual(w, []);
    assert.deepEqual({ ...ino }, {
      mode: 0o100640, nlink: 3, uid: 70000, gid: 70001, size: 2 ** 40 + 7, blocks: 123456,
      flags: 0, rdev: 0,
      atime: 1015218367, atimeUsec: 1, mtime: 981173106, mtimeUsec: 123456, ctime: 1795311505, ctimeUsec: 0,
      exact: {
        atimeSec: 1015218367, atimeNsec: 1000, mtimeSec: 981173106, mtimeNsec: 123456789,
        ctimeSec: 1795311505, ctimeNsec: 0, birth: null,
      },
    });
  });

  test('exact times keep what the Linux fields cannot: pre-1970 seconds and the birth time', () => {
    const w: FieldWarning[] = [];
    const ino = inodeFromStat({ ...stat({ mtimeNs: -315619200n * NS + 5n }), birthSec: 1700000000, birthNsec: 42 }, w);
    assert.equal(ino.mtime, 0, 'Linux fields clamped');
    assert.ok(w.some((x) => x.field === 'mtime'));
    assert.equal(ino.exact?.mtimeSec, -315619200);
    assert.equal(ino.exact?.mtimeNsec, 5);
    assert.deepEqual(ino.exact?.birth, { sec: 1700000000, nsec: 42 });
    const none = inodeFromStat({ ...stat({}), birthSec: 0, birthNsec: -1 }, []);
    assert.equal(none.exact?.birth, null);
  });

  test('uid/gid: full 32 bits', () => {
    const ino = inodeFromStat(stat({ uid: 0xfffffffe, gid: 65536 + 42 }), []);
    assert.equal(ino.uid, 0xfffffffe);
    assert.equal(ino.gid, 65578);
  });

  test('link counts beyond int16 are clamped', () => {
    assert.equal(inodeFromStat(stat({ nlink: 40000 }), []).nlink, 0x7fff);
    assert.equal(inodeFromStat(stat({ mode: 0o40755, nlink: 32767 }), []).nlink, 32767);
  });

  test('devices get di_rdev, others never do', () => {
    assert.equal(inodeFromStat(stat({ mode: 0o20666, rdev: makedev(1, 3) }), []).rdev, 0x0103);
    assert.equal(inodeFromStat(stat({ mode: 0o60660, rdev: makedev(7, 1) }), []).rdev, 0x0701);
    assert.equal(inodeFromStat(stat({ mode: 0o20644, rdev: makedev(300, 70000) }), []).rdev, 286338160);
    assert.equal(inodeFromStat(stat({ mode: 0o10644, rdev: 1234 }), []).rdev, 0, 'FIFO');
    assert.equal(inodeFromStat(stat({ mode: 0o140755, rdev: 1234 }), []).rdev, 0, 'socket');
  });

  test('a device number that cannot be stored becomes 0:0 with a warning', () => {
    const w: FieldWarning[] = [];
    const ino = inodeFromStat(stat({ mode: 0o20644, rdev: makedev(4096, 1) }), w);
    assert.equal(ino.rdev, 0);
    assert.deepEqual(w.map((x) => x.field), ['rdev']);
  });

  test('out-of-range times are clamped and warned about per field', () => {
    const w: FieldWarning[] = [];
    const ino = inodeFromStat(stat({ mtimeNs: -315619200n * NS, atimeNs: 0x100000000n * NS }), w);
    assert.equal(ino.mtime, 0);
    assert.equal(ino.atime, 0xffffffff);
    assert.deepEqual(w.map((x) => x.field).sort(), ['atime', 'mtime']);
  });
});
