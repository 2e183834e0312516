/*
 * Directory records from the backup's entry table (src/stages/entry-table.ts), in C.
 *
 * A level 1 of a large tree writes every directory on the path to a change, with its whole
 * listing: all names of the tree, each once. In JavaScript that loop runs once per dump, mostly
 * before V8 has optimised it; here it is a few nanoseconds an entry. The layout is exactly that of
 * encodeDirectoryFrom (src/format/directory.ts, which the tests compare): BSD `struct direct`
 * records (u32 ino, u16 reclen, u8 type, u8 namlen, name, NUL, padded to 4), packed into 512-byte
 * chunks, the last record of each chunk stretched to its end.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#define NAPI_VERSION 8
#include <node_api.h>

#define DIRBLKSIZ 512
#define MAX_NAME_BYTES 255
#define DT_UNKNOWN 0
#define DT_FIFO 1
#define DT_CHR 2
#define DT_DIR 4
#define DT_BLK 6
#define DT_REG 8
#define DT_LNK 10
#define DT_SOCK 12

#include "sysx-methods.h"

static unsigned dtype_of_mode(uint32_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return DT_REG;
    case S_IFDIR: return DT_DIR;
    case S_IFLNK: return DT_LNK;
    case S_IFCHR: return DT_CHR;
    case S_IFBLK: return DT_BLK;
    case S_IFIFO: return DT_FIFO;
    case S_IFSOCK: return DT_SOCK;
    default: return DT_UNKNOWN;
  }
}

static size_t entry_length(size_t name_length) {
  return (8 + name_length + 1 + 3) & ~(size_t)3;
}

/* A typed array argument of the given type: its data and element count (false: exception pending). */
static bool typed_arg(napi_env env, napi_value v, napi_typedarray_type want, const char *name,
                      void **data, size_t *length) {
  bool is_typed = false;
  napi_typedarray_type type;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, v, &type, length, data, NULL, NULL) != napi_ok || type != want) {
    char msg[96];
    snprintf(msg, sizeof(msg), "The \"%s\" argument has the wrong type", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return false;
  }
  return true;
}

static bool int_arg(napi_env env, napi_value v, const char *name, int64_t min, int64_t max, int64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= (double)min && d <= (double)max) ||
      (double)(int64_t)d != d) {
    char msg[96];
    snprintf(msg, sizeof(msg), "The \"%s\" argument is not an integer in range", name);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

/* What one directory's listing is made of. */
struct dir_source {
  const uint8_t *names;
  size_t names_len;
  const int32_t *link_child, *link_start;
  const int16_t *link_length;
  const double *rows;
  size_t rows_len;
  int64_t stride, col_ino, col_mode;
  int64_t first, count; /* links first .. first + count - 1, after "." and ".." */
  uint32_t dir_ino, parent_ino;
};

/* Entry i (0 ".", 1 "..", then the links): its name, length, number and type. Returns 0, or
 * BAD_NAME (length 0 or over 255, in *len) or BAD_TABLE (a link or row outside the arrays). */
#define BAD_NAME 1
#define BAD_TABLE 2
static int entry_at(const struct dir_source *s, int64_t i, const uint8_t **name, size_t *len,
                     uint32_t *ino, unsigned *type) {
  static const uint8_t dots[] = "..";
  if (i < 2) {
    *name = dots;
    *len = (size_t)i + 1;
    *ino = i == 0 ? s->dir_ino : s->parent_ino;
    *type = DT_DIR;
    return 0;
  }
  int64_t l = s->first + i - 2;
  int64_t child = s->link_child[l];
  int64_t start = s->link_start[l];
  int64_t n = s->link_length[l];
  if (n < 0) n = -n; /* a name that is not UTF-8: the same bytes */
  *len = (size_t)n;
  if (n == 0 || n > MAX_NAME_BYTES) return BAD_NAME;
  if (child < 0 || start < 0 || (size_t)(start + n) > s->names_len) return BAD_TABLE;
  size_t row = (size_t)child * (size_t)s->stride;
  if (row + (size_t)s->col_ino >= s->rows_len || row + (size_t)s->col_mode >= s->rows_len) return BAD_TABLE;
  *name = s->names + start;
  *ino = (uint32_t)(int64_t)s->rows[row + (size_t)s->col_ino];
  *type = dtype_of_mode((uint32_t)(int64_t)s->rows[row + (size_t)s->col_mode]);
  return 0;
}

/*
 * encodeDirectory(out: Buffer | null, at, names: Buffer, linkChild: Int32Array, linkStart:
 * Int32Array, linkLength: Int16Array, rows: Float64Array, geometry: Int32Array [stride, colIno,
 * colMode], first, count, dirIno, parentIno) -> bytes of the directory's tape form. With `out`,
 * also writes it at out[at...] (zeros included) when it fits there, and writes nothing when it
 * does not (the caller, comparing the size with its room, then knows which); without, only
 * measures it. One call per directory, not a measuring call and a writing one: the backup packs
 * thousands of directories into buffers that almost always have room.
 */
napi_value EncodeDirectory(napi_env env, napi_callback_info info) {
  napi_value argv[12], result;
  size_t argc = 12;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 12) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "encodeDirectory takes 12 arguments");
    return NULL;
  }
  struct dir_source s;
  void *names, *child, *start, *length, *rows, *geometry;
  size_t names_len, child_len, start_len, length_len, geometry_len;
  int64_t at = 0, first, count, dir_ino, parent_ino;
  napi_valuetype out_type;
  if (napi_typeof(env, argv[0], &out_type) != napi_ok) return NULL;
  uint8_t *out = NULL;
  size_t out_len = 0;
  if (out_type != napi_null) {
    void *data;
    if (!typed_arg(env, argv[0], napi_uint8_array, "out", &data, &out_len)) return NULL;
    out = data;
  }
  if (!int_arg(env, argv[1], "at", 0, INT64_MAX / 2, &at) ||
      !typed_arg(env, argv[2], napi_uint8_array, "names", &names, &names_len) ||
      !typed_arg(env, argv[3], napi_int32_array, "linkChild", &child, &child_len) ||
      !typed_arg(env, argv[4], napi_int32_array, "linkStart", &start, &start_len) ||
      !typed_arg(env, argv[5], napi_int16_array, "linkLength", &length, &length_len) ||
      !typed_arg(env, argv[6], napi_float64_array, "rows", &rows, &s.rows_len) ||
      !typed_arg(env, argv[7], napi_int32_array, "geometry", &geometry, &geometry_len) ||
      !int_arg(env, argv[8], "first", 0, INT32_MAX, &first) ||
      !int_arg(env, argv[9], "count", 0, INT32_MAX, &count) ||
      !int_arg(env, argv[10], "dirIno", 0, UINT32_MAX, &dir_ino) ||
      !int_arg(env, argv[11], "parentIno", 0, UINT32_MAX, &parent_ino)) {
    return NULL;
  }
  const int32_t *g = geometry;
  if (geometry_len < 3 || g[0] <= 0 || g[1] < 0 || g[2] < 0 || g[1] >= g[0] || g[2] >= g[0] ||
      (size_t)(first + count) > child_len || (size_t)(first + count) > start_len ||
      (size_t)(first + count) > length_len) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "encodeDirectory: links or geometry out of range");
    return NULL;
  }
  s.names = names;
  s.names_len = names_len;
  s.link_child = child;
  s.link_start = start;
  s.link_length = length;
  s.rows = rows;
  s.stride = g[0];
  s.col_ino = g[1];
  s.col_mode = g[2];
  s.first = first;
  s.count = count;
  s.dir_ino = (uint32_t)dir_ino;
  s.parent_ino = (uint32_t)parent_ino;

  /* Measure: every name checked here, so the write below cannot fail halfway. */
  size_t total = 0, used = 0;
  for (int64_t i = 0; i < count + 2; i++) {
    const uint8_t *name;
    size_t len;
    uint32_t ino;
    unsigned type;
    int bad = entry_at(&s, i, &name, &len, &ino, &type);
    if (bad == BAD_NAME) {
      char msg[64];
      snprintf(msg, sizeof(msg), "directory entry name of %zu bytes", len);
      napi_throw_range_error(env, NULL, msg);
      return NULL;
    }
    if (bad == BAD_TABLE) {
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "encodeDirectory: a link points outside the table");
      return NULL;
    }
    size_t el = entry_length(len);
    if (used + el > DIRBLKSIZ) { total += DIRBLKSIZ; used = 0; }
    used += el;
  }
  total += DIRBLKSIZ;

  if (out != NULL && (size_t)at <= out_len && total <= out_len - (size_t)at) {
    uint8_t *buf = out + at;
    memset(buf, 0, total);
    size_t chunk = 0, pos = 0;
    ssize_t last = -1;
    for (int64_t i = 0; i < count + 2; i++) {
      const uint8_t *name;
      size_t len;
      uint32_t ino;
      unsigned type;
      entry_at(&s, i, &name, &len, &ino, &type);
      size_t el = entry_length(len);
      if (pos - chunk + el > DIRBLKSIZ) {
        size_t reclen = chunk + DIRBLKSIZ - (size_t)last;
        buf[last + 4] = reclen & 0xff;
        buf[last + 5] = (uint8_t)(reclen >> 8);
        chunk += DIRBLKSIZ;
        pos = chunk;
      }
      buf[pos] = ino & 0xff;
      buf[pos + 1] = (ino >> 8) & 0xff;
      buf[pos + 2] = (ino >> 16) & 0xff;
      buf[pos + 3] = (uint8_t)(ino >> 24);
      buf[pos + 4] = el & 0xff;
      buf[pos + 5] = (uint8_t)(el >> 8);
      buf[pos + 6] = (uint8_t)type;
      buf[pos + 7] = (uint8_t)len;
      memcpy(buf + pos + 8, name, len);
      last = (ssize_t)pos;
      pos += el;
    }
    /* count + 2 >= 2 entries, so there is a last record to stretch. */
    size_t reclen = chunk + DIRBLKSIZ - (size_t)last;
    buf[last + 4] = reclen & 0xff;
    buf[last + 5] = (uint8_t)(reclen >> 8);
  }
  if (napi_create_double(env, (double)total, &result) != napi_ok) return NULL;
  return result;
}
