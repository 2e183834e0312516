/* One directory listed and stat'ed (walk.c), the unit of both walks (walkDir, walk-tree.c). */
#ifndef SYSX_WALK_H
#define SYSX_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sysx-common.h"
#include "stat-row.h"

/* Columns of a walk row (src/stages/walk-rows.ts): the STAT_FIELDS, readable, birth sec/nsec. */
#define WALK_COLS (STAT_FIELDS + 3)

/* What one directory's walk collected: n entries; fail = errno when it could not be read. */
struct walk_out {
  int fail;
  double flags;        /* the directory's inode flags, -1: unknown */
  int32_t xattr_bytes; /* size of its xattr name list, -1: unknown */
  size_t n, used, nraw;
  char *names;     /* sorted, NUL-terminated, `used` bytes */
  double *rows;    /* n * WALK_COLS */
  int32_t *errs;   /* n */
  int32_t *raw;    /* nraw */
  int32_t *starts; /* n: where each name begins in `names` */
};

/* Lists and stats directory `dir` into `w` (no N-API: runs on any thread). */
SYSX_PRIVATE void walk_collect(const char *dir, bool birth, bool check_access, struct walk_out *w);
SYSX_PRIVATE void walk_out_free(struct walk_out *w);

#endif
