/* See inode-header.h. */
#include "inode-header.h"

#include <endian.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

/* Header offsets and the checksum rule (src/format/header-template.ts, header.ts). */
#define O_INUMBER 20
#define O_CHECKSUM 28
#define O_DINODE 32
#define O_COUNT 160
#define O_ADDR 164
#define O_SPARE 904
#define CHECKSUM 84446u
/* snapdump's exact times in the spare words (src/format/exact-times.ts). */
#define EXACT_TIMES_MAGIC 0x31544453u
#define EXACT_TIMES_WORDS 14

/* ECMAScript ToUint32, which the JavaScript encoder applies to every field (x >>> 0). */
static uint32_t js_u32(double d) {
  if (!isfinite(d)) return 0;
  double m = fmod(trunc(d), 4294967296.0);
  if (m < 0) m += 4294967296.0;
  return (uint32_t)m;
}

static void put32(uint8_t *h, size_t at, uint32_t v) {
  v = htole32(v);
  memcpy(h + at, &v, 4);
}

static void put16(uint8_t *h, size_t at, uint32_t v) {
  uint16_t w = htole16((uint16_t)(v & 0xffff));
  memcpy(h + at, &w, 2);
}

/* Seconds as two words (low, high; signed) and nanoseconds clamped to 0..999999999. */
static void put_time(uint8_t *h, int word, double sec, double nsec) {
  double s = isfinite(sec) ? trunc(sec) : NAN;
  double hi = floor(s / 4294967296.0);
  put32(h, O_SPARE + 4 * (size_t)word, js_u32(s - hi * 4294967296.0));
  put32(h, O_SPARE + 4 * (size_t)word + 4, js_u32(hi));
  double ns = isfinite(nsec) ? fmin(fmax(trunc(nsec), 0), 999999999) : 0;
  put32(h, O_SPARE + 4 * (size_t)word + 8, (uint32_t)ns);
}

void inode_header(uint8_t *h, const uint8_t *tpl, const double *row, double size, uint32_t flags, uint32_t nblocks) {
  memcpy(h, tpl, TP_BSIZE);
  put32(h, O_INUMBER, js_u32(row[C_INO]));
  put16(h, O_DINODE, js_u32(row[C_MODE]));
  put16(h, O_DINODE + 2, js_u32(row[C_NLINK]));
  put16(h, O_DINODE + 4, js_u32(row[C_UID]));
  put16(h, O_DINODE + 6, js_u32(row[C_GID]));
  put32(h, O_DINODE + 8, js_u32(size));
  put32(h, O_DINODE + 12, js_u32(floor(size / 4294967296.0)));
  put32(h, O_DINODE + 16, js_u32(row[C_ATIME]));
  put32(h, O_DINODE + 20, js_u32(row[C_ATIME_USEC]));
  put32(h, O_DINODE + 24, js_u32(row[C_MTIME]));
  put32(h, O_DINODE + 28, js_u32(row[C_MTIME_USEC]));
  put32(h, O_DINODE + 32, js_u32(row[C_CTIME]));
  put32(h, O_DINODE + 36, js_u32(row[C_CTIME_USEC]));
  put32(h, O_DINODE + 40, js_u32(row[C_RDEV]));
  put32(h, O_DINODE + 100, flags);
  put32(h, O_DINODE + 104, js_u32(row[C_BLOCKS]));
  put32(h, O_DINODE + 112, js_u32(row[C_UID]));
  put32(h, O_DINODE + 116, js_u32(row[C_GID]));
  bool birth = row[C_BIRTH_NSEC] >= 0;
  put32(h, O_SPARE, EXACT_TIMES_MAGIC);
  put32(h, O_SPARE + 4, birth ? 1 : 0);
  put_time(h, 2, row[C_ATIME_SEC], row[C_ATIME_NSEC]);
  put_time(h, 5, row[C_MTIME_SEC], row[C_MTIME_NSEC]);
  put_time(h, 8, row[C_CTIME_SEC], row[C_CTIME_NSEC]);
  if (birth) put_time(h, 11, row[C_BIRTH_SEC], row[C_BIRTH_NSEC]);
  else memset(h + O_SPARE + 4 * 11, 0, 12);
  put32(h, O_COUNT, nblocks);
  memset(h + O_ADDR, 1, nblocks);
  uint32_t sum = 0;
  for (size_t i = 0; i < TP_BSIZE; i += 4) {
    uint32_t w;
    memcpy(&w, h + i, 4);
    sum += le32toh(w);
  }
  put32(h, O_CHECKSUM, CHECKSUM - sum);
}

