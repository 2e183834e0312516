import assert from 'node:assert/strict';
import {
  appendFileSync,
  closeSync,
  constants,
  existsSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import {
  FS_APPEND_FL,
  adviseHugePages,
  type Extent,
  dataExtents,
  getFlags,
  getXattr,
  listXattrs,
  lutimesNs,
  major,
  makedev,
  minor,
  mknod,
  removeXattr,
  seekData,
  seekHole,
  setFlags,
  setXattr,
  statxBirth,
} from '../../src/native/sysx.js';

const isRoot = process.getuid?.() === 0;
const rootOnly = isRoot ? false : 'needs root';

// ---------------------------------------------------------------------------
// Scratch space: every test gets its own directory under one base directory,
// removed when the test ends. The base is in the OS temp dir unless that fs
// lacks user xattrs, in which case a test-tmp/ directory in the repo is used.
// ---------------------------------------------------------------------------

let base = '';
let createdRepoTmp = '';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found above test file');
    dir = parent;
  }
  return dir;
}

function supportsUserXattrs(dir: string): boolean {
  const probe = join(dir, 'xattr-probe');
  writeFileSync(probe, '');
  try {
    setXattr(probe, 'user.snapdump.probe', Buffer.from('1'));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTSUP') return false;
    throw err;
  } finally {
    rmSync(probe, { force: true });
  }
}

before(() => {
  base = mkdtempSync(join(tmpdir(), 'snapdump-sysx-'));
  if (!supportsUserXattrs(base)) {
    rmSync(base, { recursive: true, force: true });
    const repoTmp = join(repoRoot(), 'test-tmp');
    if (!existsSync(repoTmp)) {
      mkdirSync(repoTmp);
      createdRepoTmp = repoTmp;
    }
    base = mkdtempSync(join(repoTmp, 'sysx-'));
  }
});

after(() => {
  if (base) rmSync(base, { recursive: true, force: true });
  if (createdRepoTmp) rmSync(createdRepoTmp, { recursive: true, force: true });
});

function withDir(fn: (dir: string) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(base, 't-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

function withFd(path: string, flags: string, fn: (fd: number) => void): void {
  const fd = openSync(path, flags);
  try {
    fn(fd);
  } finally {
    closeSync(fd);
  }
}

/** Asserts err is a fs-style error with the given code, syscall and path. */
function sysError(code: string, syscall: string, path?: string) {
  return (err: unknown): boolean => {
    const e = err as NodeJS.ErrnoException;
    assert.ok(e instanceof Error, 'expected an Error');
    assert.equal(e.code, code);
    assert.equal(e.syscall, syscall);
    assert.equal(typeof e.errno, 'number');
    assert.ok((e.errno as number) < 0, 'errno is negative like libuv');
    assert.equal(e.path, path);
    assert.match(e.message, new RegExp(`^${code}: `));
    return true;
  };
}

function userXattrs(path: string): string[] {
  return listXattrs(path)
    .filter((n) => n.startsWith('user.'))
    .sort();
}

// ---------------------------------------------------------------------------
// Sparse files
// ---------------------------------------------------------------------------

function assertWellFormed(extents: Extent[], size: number): void {
  let prevEnd = -1;
  for (const [start, end] of extents) {
    assert.ok(Number.isInteger(start) && Number.isInteger(end));
    assert.ok(start >= 0 && start < end && end <= size, `bad extent [${start}, ${end})`);
    assert.ok(start > prevEnd, 'extents are sorted and separated by holes');
    prevEnd = end;
  }
}

function covers(extents: Extent[], start: number, end: number): boolean {
  return extents.some(([s, e]) => s <= start && end <= e);
}

function intersects(extents: Extent[], start: number, end: number): boolean {
  return extents.some(([s, e]) => s < end && start < e);
}

describe('sparse files', () => {
  test(
    'dataExtents finds data at 0, 5,000,000 and the end, and the holes between',
    withDir((dir) => {
      const p = join(dir, 'sparse');
      const size = 10_000_000;
      withFd(p, 'w+', (fd) => {
        writeSync(fd, Buffer.alloc(4096, 0x41), 0, 4096, 0);
        writeSync(fd, Buffer.alloc(1000, 0x42), 0, 1000, 5_000_000);
        writeSync(fd, Buffer.alloc(100, 0x43), 0, 100, size - 100);
        assert.equal(statSync(p).size, size);

        const extents = dataExtents(fd, size);
        assertWellFormed(extents, size);
        assert.ok(covers(extents, 0, 4096), JSON.stringify(extents));
        assert.ok(covers(extents, 5_000_000, 5_001_000), JSON.stringify(extents));
        assert.ok(covers(extents, size - 100, size), JSON.stringify(extents));
        // Block-granular, so leave generous margins around the written bytes.
        assert.ok(!intersects(extents, 65_536, 4_900_000), JSON.stringify(extents));
        assert.ok(!intersects(extents, 5_100_000, 9_900_000), JSON.stringify(extents));
        assert.equal(extents.at(-1)?.[1], size);

        // Clipping to a smaller size drops what lies beyond it.
        const head = dataExtents(fd, 6_000_000);
        assertWellFormed(head, 6_000_000);
        assert.equal(head.length, 2);
        assert.ok(covers(head, 5_000_000, 5_001_000));

        const hole = seekHole(fd, 0);
        assert.ok(hole >= 4096 && hole <= 65_536, `first hole at ${hole}`);
        const data = seekData(fd, hole);
        assert.ok(data >= 4_900_000 && data <= 5_000_000, `next data at ${data}`);
        assert.equal(seekData(fd, 5_000_010), 5_000_010, 'inside data returns the offset');
        assert.equal(seekData(fd, size), -1, 'no data at EOF');
        assert.equal(seekHole(fd, size), -1, 'SEEK_HOLE at EOF is ENXIO');
        assert.equal(seekHole(fd, size - 1), size, 'EOF counts as a hole');
      });
    }),
  );

  test(
    'dataExtents restores the file position',
    withDir((dir) => {
      const p = join(dir, 'pos');
      withFd(p, 'w+', (fd) => {
        writeSync(fd, Buffer.from('xyz'), 0, 3, 1_000_000);
        assert.equal(seekData(fd, 1_000_001), 1_000_001); // moves the position
        dataExtents(fd, 1_000_003);
        const buf = Buffer.alloc(2);
        assert.equal(readSync(fd, buf, 0, 2, null), 2);
        assert.equal(buf.toString(), 'yz');
      });
    }),
  );

  test(
    'empty and all-hole files have no extents',
    withDir((dir) => {
      const p = join(dir, 'holes');
      withFd(p, 'w+', (fd) => {
        assert.deepEqual(dataExtents(fd, 0), []);
        ftruncateSync(fd, 1 << 20);
        assert.deepEqual(dataExtents(fd, 1 << 20), []);
        assert.equal(seekData(fd, 0), -1);
        assert.equal(seekHole(fd, 0), 0);
      });
    }),
  );

  test(
    'offsets beyond 4 GiB',
    withDir((dir) => {
      const p = join(dir, 'big');
      const at = 5 * 2 ** 30 + 12_345;
      withFd(p, 'w+', (fd) => {
        writeSync(fd, Buffer.from('tail'), 0, 4, at);
        const size = at + 4;
        const data = seekData(fd, 0);
        assert.ok(data > 2 ** 32 && data <= at, `data at ${data}`);
        assert.equal(seekHole(fd, data), size);
        const extents = dataExtents(fd, size);
        assert.equal(extents.length, 1);
        assert.ok(covers(extents, at, size), JSON.stringify(extents));
      });
    }),
  );

  test('bad descriptors and offsets', () => {
    assert.throws(() => seekData(2 ** 31 - 1, 0), sysError('EBADF', 'lseek'));
    assert.throws(() => dataExtents(2 ** 31 - 1, 10), sysError('EBADF', 'lseek'));
    assert.throws(() => seekData(0, -1), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => seekHole(0, 1.5), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => seekData('0' as unknown as number, 0), {
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_TYPE',
    });
  });
});

// ---------------------------------------------------------------------------
// Extended attributes
// ---------------------------------------------------------------------------

describe('xattrs', () => {
  test(
    'set/get/list/remove round trip',
    withDir((dir) => {
      const f = join(dir, 'file');
      writeFileSync(f, 'hello');
      assert.deepEqual(userXattrs(f), []);

      const bin = Buffer.from([0, 1, 2, 0xff, 0, 0x80, 0x7f, 0]);
      const big = Buffer.alloc(3000);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7) % 251;
      // A view into a larger buffer: only the viewed bytes must be stored.
      const view = new Uint8Array([9, 9, 1, 2, 3, 9]).subarray(2, 5);

      setXattr(f, 'user.snapdump.bin', bin);
      setXattr(f, 'user.snapdump.big', big);
      setXattr(f, 'user.snapdump.view', view);
      setXattr(f, 'user.snapdump.empty', Buffer.alloc(0));

      assert.deepEqual(userXattrs(f), [
        'user.snapdump.big',
        'user.snapdump.bin',
        'user.snapdump.empty',
        'user.snapdump.view',
      ]);
      const got = getXattr(f, 'user.snapdump.bin');
      assert.ok(Buffer.isBuffer(got));
      assert.deepEqual(got, bin);
      assert.deepEqual(getXattr(f, 'user.snapdump.big'), big);
      assert.deepEqual(getXattr(f, 'user.snapdump.view'), Buffer.from([1, 2, 3]));
      assert.equal(getXattr(f, 'user.snapdump.empty').length, 0);

      setXattr(f, 'user.snapdump.bin', Buffer.from('replaced'));
      assert.equal(getXattr(f, 'user.snapdump.bin').toString(), 'replaced');

      for (const name of userXattrs(f)) removeXattr(f, name);
      assert.deepEqual(userXattrs(f), []);
      assert.throws(() => getXattr(f, 'user.snapdump.bin'), sysError('ENODATA', 'lgetxattr', f));
      assert.throws(
        () => removeXattr(f, 'user.snapdump.bin'),
        sysError('ENODATA', 'lremovexattr', f),
      );
      assert.equal(readFileSync(f, 'utf8'), 'hello');
    }),
  );

  test(
    'symlinks are not followed',
    withDir((dir) => {
      const f = join(dir, 'target');
      const link = join(dir, 'link');
      writeFileSync(f, '');
      symlinkSync('target', link);
      setXattr(f, 'user.snapdump.t', Buffer.from('on target'));

      assert.deepEqual(userXattrs(f), ['user.snapdump.t']);
      assert.ok(!listXattrs(link).includes('user.snapdump.t'));
      assert.throws(() => getXattr(link, 'user.snapdump.t'), sysError('ENODATA', 'lgetxattr', link));
      // The kernel refuses user.* attributes on symlinks themselves.
      assert.throws(
        () => setXattr(link, 'user.snapdump.t', Buffer.from('x')),
        sysError('EPERM', 'lsetxattr', link),
      );
      assert.equal(getXattr(f, 'user.snapdump.t').toString(), 'on target');
    }),
  );

  test('errors and argument checks', () => {
    const missing = join(base, 'does-not-exist');
    assert.throws(() => listXattrs(missing), sysError('ENOENT', 'llistxattr', missing));
    assert.throws(() => getXattr(missing, 'user.x'), sysError('ENOENT', 'lgetxattr', missing));
    assert.throws(
      () => setXattr(missing, 'user.x', Buffer.from('v')),
      sysError('ENOENT', 'lsetxattr', missing),
    );
    assert.throws(() => removeXattr(missing, 'user.x'), sysError('ENOENT', 'lremovexattr', missing));
    assert.throws(() => listXattrs(`${base}\0/etc`), {
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_VALUE',
    });
    assert.throws(() => setXattr(base, 'user.x', 'text' as unknown as Buffer), {
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_TYPE',
    });
  });
});

// ---------------------------------------------------------------------------
// Inode flags
// ---------------------------------------------------------------------------

describe('inode flags', () => {
  test(
    'FS_APPEND_FL round trip',
    { skip: rootOnly },
    withDir((dir) => {
      const f = join(dir, 'flags');
      writeFileSync(f, 'start');
      withFd(f, 'r', (fd) => {
        const before = getFlags(fd);
        assert.ok(Number.isInteger(before) && before >= 0 && before <= 0xffff_ffff);
        assert.equal(before & FS_APPEND_FL, 0);
        try {
          setFlags(fd, before | FS_APPEND_FL);
          assert.equal(getFlags(fd), (before | FS_APPEND_FL) >>> 0);
          assert.throws(() => writeFileSync(f, 'truncate'), { code: 'EPERM' });
          appendFileSync(f, '+more');
        } finally {
          setFlags(fd, getFlags(fd) & ~FS_APPEND_FL);
        }
        assert.equal(getFlags(fd), before);
      });
      assert.equal(readFileSync(f, 'utf8'), 'start+more');
    }),
  );

  test('descriptors without inode flags', () => {
    withFd('/dev/null', 'r', (fd) => {
      assert.equal(getFlags(fd), 0);
      assert.throws(() => setFlags(fd, 0), sysError('ENOTTY', 'ioctl'));
    });
    assert.throws(() => getFlags(2 ** 31 - 1), sysError('EBADF', 'ioctl'));
  });
});

// ---------------------------------------------------------------------------
// Device numbers and mknod
// ---------------------------------------------------------------------------

describe('device numbers', () => {
  test('makedev/major/minor match the glibc encoding', () => {
    // Reference values from glibc's gnu_dev_makedev.
    const cases: Array<[number, number, number]> = [
      [0, 0, 0],
      [8, 1, 2049],
      [300, 70000, 286338160],
      [4095, 0xfffff, 0xffff_ffff],
      [4096, 1, 17592186044417],
      [0x12345, 0xabcdef12, 328465659413778],
      [2 ** 21 - 1, 0xffff_ffff, Number.MAX_SAFE_INTEGER],
    ];
    for (const [ma, mi, dev] of cases) {
      assert.equal(makedev(ma, mi), dev, `makedev(${ma}, ${mi})`);
      assert.equal(major(dev), ma, `major(${dev})`);
      assert.equal(minor(dev), mi, `minor(${dev})`);
      assert.equal(major(BigInt(dev)), ma);
      assert.equal(minor(BigInt(dev)), mi);
    }
    for (let i = 0; i < 2000; i++) {
      const ma = Math.floor(Math.random() * 2 ** 21);
      const mi = Math.floor(Math.random() * 2 ** 32);
      const dev = makedev(ma, mi);
      assert.equal(major(dev), ma);
      assert.equal(minor(dev), mi);
    }
    assert.throws(() => makedev(2 ** 21, 0), RangeError);
    assert.throws(() => makedev(-1, 0), RangeError);
    assert.throws(() => makedev(1, 2 ** 32), RangeError);
    assert.throws(() => major(-1), RangeError);
  });

  test(
    'mknod char device with major 300, minor 70000',
    { skip: rootOnly },
    withDir((dir) => {
      const p = join(dir, 'chr');
      mknod(p, constants.S_IFCHR | 0o600, makedev(300, 70000));
      const st = lstatSync(p);
      assert.ok(st.isCharacterDevice());
      assert.equal(st.mode & 0o777, 0o600);
      assert.equal(major(st.rdev), 300);
      assert.equal(minor(st.rdev), 70000);
      assert.equal(major(lstatSync(p, { bigint: true }).rdev), 300);
    }),
  );

  test(
    'mknod fifo and errors',
    withDir((dir) => {
      const p = join(dir, 'fifo');
      mknod(p, constants.S_IFIFO | 0o644, 0);
      assert.ok(lstatSync(p).isFIFO());
      assert.throws(() => mknod(p, constants.S_IFIFO | 0o644, 0), sysError('EEXIST', 'mknod', p));
      const missing = join(dir, 'no', 'such');
      assert.throws(() => mknod(missing, constants.S_IFIFO, 0), sysError('ENOENT', 'mknod', missing));
    }),
  );
});

// ---------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------

describe('timestamps', () => {
  test(
    'lutimesNs sets exact nanoseconds',
    withDir((dir) => {
      const f = join(dir, 'file');
      writeFileSync(f, '');
      lutimesNs(f, 1_000_000_000, 5, 1_600_000_000, 123_456_789);
      const st = statSync(f, { bigint: true });
      assert.equal(st.mtimeNs, 1_600_000_000_123_456_789n);
      assert.equal(st.atimeNs, 1_000_000_000_000_000_005n);
    }),
  );

  test(
    'lutimesNs changes the symlink, not its target',
    withDir((dir) => {
      const f = join(dir, 'target');
      const link = join(dir, 'link');
      writeFileSync(f, '');
      symlinkSync('target', link);
      lutimesNs(f, 1_000_000_000, 0, 1_000_000_000, 0);
      lutimesNs(link, 1_500_000_000, 1, 1_500_000_000, 987_654_321);
      assert.equal(lstatSync(link, { bigint: true }).mtimeNs, 1_500_000_000_987_654_321n);
      assert.equal(statSync(f, { bigint: true }).mtimeNs, 1_000_000_000_000_000_000n);
    }),
  );

  test('lutimesNs errors', () => {
    const missing = join(base, 'does-not-exist');
    assert.throws(() => lutimesNs(missing, 0, 0, 0, 0), sysError('ENOENT', 'utimensat', missing));
    assert.throws(() => lutimesNs(base, 0, 1e9, 0, 0), {
      name: 'RangeError',
      code: 'ERR_OUT_OF_RANGE',
    });
  });

  test(
    'statxBirth reports the birth time of a new file',
    withDir((dir) => {
      const f = join(dir, 'born');
      const link = join(dir, 'link');
      const t0 = Math.floor(Date.now() / 1000);
      writeFileSync(f, '');
      symlinkSync('born', link);
      for (const p of [f, link]) {
        const expected = lstatSync(p, { bigint: true }).birthtimeNs;
        const birth = statxBirth(p);
        if (expected === 0n) {
          // Filesystem without birth times (not ext4).
          assert.equal(birth, null);
          continue;
        }
        assert.ok(birth !== null);
        assert.ok(Number.isInteger(birth.sec) && Number.isInteger(birth.nsec));
        assert.ok(birth.nsec >= 0 && birth.nsec < 1e9);
        assert.ok(birth.sec >= t0 - 60 && birth.sec <= t0 + 60, `birth ${birth.sec} vs ${t0}`);
        assert.equal(BigInt(birth.sec) * 1_000_000_000n + BigInt(birth.nsec), expected);
      }
      const missing = join(dir, 'missing');
      assert.throws(() => statxBirth(missing), sysError('ENOENT', 'statx', missing));
    }),
  );
});

// ---------------------------------------------------------------------------
// worker_threads
// ---------------------------------------------------------------------------

test(
  'the addon loads and works in worker threads',
  withDir(async (dir) => {
    const f = join(dir, 'shared');
    writeFileSync(f, '');
    setXattr(f, 'user.snapdump.w', Buffer.from('from main'));
    const url = new URL('../../src/native/sysx.js', import.meta.url).href;
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      import(workerData.url).then((m) => {
        let code;
        try { m.getXattr(workerData.file, 'user.snapdump.missing'); } catch (e) { code = e.code; }
        parentPort.postMessage({
          value: m.getXattr(workerData.file, 'user.snapdump.w').toString(),
          names: m.listXattrs(workerData.file),
          dev: m.makedev(300, 70000),
          code,
        });
      });
    `;
    const workers = [0, 1].map(
      () => new Worker(source, { eval: true, workerData: { url, file: f } }),
    );
    const replies = await Promise.all(
      workers.map(
        (w) =>
          new Promise<Record<string, unknown>>((resolve, reject) => {
            let reply: Record<string, unknown> | undefined;
            w.on('message', (m: Record<string, unknown>) => (reply = m));
            w.on('error', reject);
            w.on('exit', (code) =>
              code === 0 && reply
                ? resolve(reply)
                : reject(new Error(`worker exited with ${code} without a reply`)),
            );
          }),
      ),
    );
    for (const msg of replies) {
      assert.equal(msg.value, 'from main');
      assert.ok((msg.names as string[]).includes('user.snapdump.w'));
      assert.equal(msg.dev, 286338160);
      assert.equal(msg.code, 'ENODATA');
    }
    // Still usable on the main thread after the workers' instances are gone.
    assert.equal(getXattr(f, 'user.snapdump.w').toString(), 'from main');
  }),
);

test('adviseHugePages advises the whole 2 MiB pages of a typed array, and only those', () => {
  const HUGE = 2 << 20;
  assert.equal(adviseHugePages(new Float64Array(16)), 0, 'no whole huge page inside');
  for (const view of [new Float64Array(3 * HUGE / 8), new Uint8Array(5 * HUGE + 123), new Int32Array(new ArrayBuffer(4 * HUGE), 4, HUGE - 1)]) {
    const advised = adviseHugePages(view);
    assert.equal(advised % HUGE, 0);
    assert.ok(advised <= view.byteLength);
    // Where the kernel has transparent huge pages, all but the unaligned ends are advised.
    if (advised > 0) assert.ok(advised >= view.byteLength - 2 * HUGE, `${advised} of ${view.byteLength}`);
  }
  const rows = new Float64Array(HUGE);
  adviseHugePages(rows);
  rows[12345] = 1.5;
  assert.equal(rows[12345], 1.5, 'the memory is usable as ever');
  assert.throws(() => adviseHugePages({} as Float64Array), TypeError);
});
