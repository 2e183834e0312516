/*
 * The passes over every row of the entry table that follow the walk (src/stages/traverse.ts and
 * inode-numbers.ts): identity numbering, the incremental selection, the inode maps and the two
 * emit orders. Each runs once per backup over up to millions of rows, mostly before V8 has
 * optimised the JavaScript that did them (≈ 15 ms of a 0.2 s level 1 of 100,000 files, against
 * ≈ 1 ms here). The columns are walk-tree.c's (table-layout.h).
 */
#include "sysx-common.h"
#include "sysx-methods.h"
#include "table-layout.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ROOTINO 2

/* A Float64Array of whole rows and its row count. */
static bool table_arg(napi_env env, napi_value v, double **rows, size_t *count) {
  void *data;
  size_t n;
  if (!arg_typed(env, v, napi_float64_array, "rows", &data, &n)) return false;
  if (n % ROW) {
    throw_arg_type(env, "rows", "a Float64Array of whole table rows");
    return false;
  }
  *rows = data;
  *count = n / ROW;
  return true;
}

/*
 * identityNumbers(rows, limit): every object but the root keeps its source inode number as its
 * dump number, the root is ROOTINO, when every source number is in ROOTINO + 1 .. limit - 1 and
 * none equals the root's. Returns maxino (highest + 1), or 0 when the rule does not apply (the
 * numbers written so far are then overwritten by another numbering).
 */
napi_value IdentityNumbers(napi_env env, napi_callback_info info) {
  napi_value argv[2], out;
  double *r, limit;
  size_t count;
  if (!get_args(env, info, 2, argv) || !table_arg(env, argv[0], &r, &count)) return NULL;
  if (napi_get_value_double(env, argv[1], &limit) != napi_ok) { throw_arg_type(env, "limit", "a number"); return NULL; }
  double highest = 0;
  if (count > 0) {
    double root_src = r[X_SRC_INO];
    r[C_INO] = ROOTINO;
    highest = ROOTINO;
    for (size_t id = 1; id < count; id++) {
      double *o = r + id * ROW;
      double src = o[X_SRC_INO];
      if (!(src > ROOTINO && src < limit && src != root_src)) { highest = -1; break; }
      o[C_INO] = src;
      if (src > highest) highest = src;
    }
  }
  napi_create_double(env, highest > 0 ? highest + 1 : 0, &out);
  return out;
}

/*
 * selectChanged(rows, since, ctimeSince, selected): selected[id] = 1 for every object whose
 * mtime is at or after `since` or whose ctime is at or after `ctimeSince` (Infinity: never), and
 * for every directory on the path to one (parents first in the table are not required: each
 * mark climbs until it meets a marked ancestor). The root is always selected.
 */
napi_value SelectChanged(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  double *r, since, ctime_since;
  size_t count, n;
  void *sel;
  if (!get_args(env, info, 4, argv) || !table_arg(env, argv[0], &r, &count)) return NULL;
  if (napi_get_value_double(env, argv[1], &since) != napi_ok || napi_get_value_double(env, argv[2], &ctime_since) != napi_ok) {
    throw_arg_type(env, "since/ctimeSince", "numbers");
    return NULL;
  }
  if (!arg_typed(env, argv[3], napi_uint8_array, "selected", &sel, &n)) return NULL;
  if (n < count) {
    throw_arg_type(env, "selected", "a Uint8Array of one byte per row");
    return NULL;
  }
  uint8_t *s = sel;
  for (size_t id = 0; id < count; id++) {
    const double *o = r + id * ROW;
    if (!(o[C_MTIME_SEC] >= since || o[C_CTIME_SEC] >= ctime_since)) continue;
    for (size_t a = id; !s[a]; a = (size_t)r[a * ROW + X_PARENT]) {
      s[a] = 1;
      if (a == 0) break;
    }
  }
  if (count) s[0] = 1;
  return NULL;
}

static int by_ino(const void *a, const void *b, void *rows) {
  const double *r = rows;
  double x = r[(size_t)*(const int32_t *)a * ROW + C_INO];
  double y = r[(size_t)*(const int32_t *)b * ROW + C_INO];
  return (x > y) - (x < y);
}

static void set_bit(uint8_t *map, size_t bytes, double ino) {
  size_t i = (size_t)ino - 1;
  if (ino >= 1 && (i >> 3) < bytes) map[i >> 3] |= (uint8_t)(1u << (i & 7));
}

/*
 * inodeMaps(rows, selected | null, inUse, dumped, directories, others): sets the bit of every
 * object's dump number in inUse, and of every selected one (all when selected is null) in
 * dumped; writes the ids of the selected directories and of the other selected objects, each in
 * ascending dump number, to the start of `directories` and `others` (Int32Arrays of one slot per
 * row). Returns [directories, others, file bytes] (a Float64Array of 3).
 */
napi_value InodeMaps(napi_env env, napi_callback_info info) {
  napi_value argv[6], out_ab, out;
  double *r;
  size_t count, n_in, n_dumped, n_dirs, n_others, n_sel = 0;
  void *sel = NULL, *in_use, *dumped, *dirs_v, *others_v;
  napi_valuetype type;
  if (!get_args(env, info, 6, argv) || !table_arg(env, argv[0], &r, &count)) return NULL;
  if (napi_typeof(env, argv[1], &type) != napi_ok) return NULL;
  if (type != napi_null && !arg_typed(env, argv[1], napi_uint8_array, "selected", &sel, &n_sel)) return NULL;
  if (type != napi_null && n_sel < count) {
    throw_arg_type(env, "selected", "null or a Uint8Array of one byte per row");
    return NULL;
  }
  if (!arg_typed(env, argv[2], napi_uint8_array, "inUse", &in_use, &n_in) ||
      !arg_typed(env, argv[3], napi_uint8_array, "dumped", &dumped, &n_dumped) ||
      !arg_typed(env, argv[4], napi_int32_array, "directories", &dirs_v, &n_dirs) ||
      !arg_typed(env, argv[5], napi_int32_array, "others", &others_v, &n_others)) return NULL;
  if (n_dirs < count || n_others < count) {
    throw_arg_type(env, "directories/others", "Int32Arrays of one slot per row");
    return NULL;
  }
  const uint8_t *s = sel;
  int32_t *dirs = dirs_v, *others = others_v;
  size_t nd = 0, no = 0;
  double bytes = 0;
  for (size_t id = 0; id < count; id++) {
    const double *o = r + id * ROW;
    set_bit(in_use, n_in, o[C_INO]);
    if (s && !s[id]) continue;
    set_bit(dumped, n_dumped, o[C_INO]);
    if (((unsigned)o[C_MODE] & S_IFMT) == S_IFDIR) {
      dirs[nd++] = (int32_t)id;
    } else {
      others[no++] = (int32_t)id;
      if (o[C_KIND] == KIND_FILE) bytes += o[C_SIZE];
    }
  }
  qsort_r(dirs, nd, sizeof(int32_t), by_ino, r);
  qsort_r(others, no, sizeof(int32_t), by_ino, r);
  double *res;
  if (napi_create_arraybuffer(env, 3 * sizeof(double), (void **)&res, &out_ab) != napi_ok ||
      napi_create_typedarray(env, napi_float64_array, 3, out_ab, 0, &out) != napi_ok) {
    throw_napi_failure(env, "inodeMaps");
    return NULL;
  }
  res[0] = (double)nd;
  res[1] = (double)no;
  res[2] = bytes;
  return out;
}
