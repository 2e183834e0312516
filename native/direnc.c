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
#include "sysx-common.h"
#include "inode-header.h"

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

/* The listing's size in bytes (whole 512-byte chunks); *bad = BAD_NAME (the size is then the
 * bad name's length) or BAD_TABLE when an entry cannot be encoded. Every name is checked here,
 * so dir_write cannot fail halfway. */
static size_t dir_measure(const struct dir_source *s, int *bad) {
  size_t total = 0, used = 0;
  for (int64_t i = 0; i < s->count + 2; i++) {
    const uint8_t *name;
    size_t len;
    uint32_t ino;
    unsigned type;
    int b = entry_at(s, i, &name, &len, &ino, &type);
    if (b) { *bad = b; return len; }
    size_t el = entry_length(len);
    if (used + el > DIRBLKSIZ) { total += DIRBLKSIZ; used = 0; }
    used += el;
  }
  return total + DIRBLKSIZ;
}

/* Writes the measured listing (`total` bytes, zeros included) at buf. */
static void dir_write(const struct dir_source *s, uint8_t *buf, size_t total) {
  memset(buf, 0, total);
  size_t chunk = 0, pos = 0;
  ssize_t last = -1;
  for (int64_t i = 0; i < s->count + 2; i++) {
    const uint8_t *name = NULL;
    size_t len = 0;
    uint32_t ino = 0;
    unsigned type = 0;
    entry_at(s, i, &name, &len, &ino, &type);
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

/* Throws for dir_measure's *bad (false: thrown). */
static bool throw_bad(napi_env env, int bad, size_t len) {
  if (bad == BAD_NAME) {
    char msg[64];
    snprintf(msg, sizeof(msg), "directory entry name of %zu bytes", len);
    napi_throw_range_error(env, NULL, msg);
  } else {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "encodeDirectory: a link points outside the table");
  }
  return false;
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
    if (!arg_typed(env, argv[0], napi_uint8_array, "out", &data, &out_len)) return NULL;
    out = data;
  }
  if (!arg_integer(env, argv[1], "at", 0, INT64_MAX / 2, "an integer in range", &at) ||
      !arg_typed(env, argv[2], napi_uint8_array, "names", &names, &names_len) ||
      !arg_typed(env, argv[3], napi_int32_array, "linkChild", &child, &child_len) ||
      !arg_typed(env, argv[4], napi_int32_array, "linkStart", &start, &start_len) ||
      !arg_typed(env, argv[5], napi_int16_array, "linkLength", &length, &length_len) ||
      !arg_typed(env, argv[6], napi_float64_array, "rows", &rows, &s.rows_len) ||
      !arg_typed(env, argv[7], napi_int32_array, "geometry", &geometry, &geometry_len) ||
      !arg_integer(env, argv[8], "first", 0, INT32_MAX, "an integer in range", &first) ||
      !arg_integer(env, argv[9], "count", 0, INT32_MAX, "an integer in range", &count) ||
      !arg_integer(env, argv[10], "dirIno", 0, UINT32_MAX, "an integer in range", &dir_ino) ||
      !arg_integer(env, argv[11], "parentIno", 0, UINT32_MAX, "an integer in range", &parent_ino)) {
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

  int bad = 0;
  size_t total = dir_measure(&s, &bad);
  if (bad && !throw_bad(env, bad, total)) return NULL;
  if (out != NULL && (size_t)at <= out_len && total <= out_len - (size_t)at) dir_write(&s, out + at, total);
  if (napi_create_double(env, (double)total, &result) != napi_ok) return NULL;
  return result;
}

/*
 * directoryRecords(names, linkChild, linkStart, linkLength, rows, dirs, from, special, template,
 * out, at, blockBase, marks) -> [next, at, marked]: the tape records of directories dirs[from],
 * dirs[from + 1], ... of the entry table (rows in table-layout.h's layout), each its TS_INODE
 * header (from `template`, a HeaderTemplate's with c_type TS_INODE) and its listing padded to
 * whole blocks, written one after the other into out from `at`. It stops before the first
 * directory that is `special` (a byte per dirs index: the caller adds its EA records), whose
 * listing needs more than one header, or that does not fit the rest of out, and returns its
 * index (dirs.length when done), where the next record would start in out, and how many
 * directories it wrote; for each, marks gets (inode, block) with block = blockBase + its
 * offset in out / 1024. The same bytes as directoryEmit's records one at a time
 * (src/stages/directory-emit.ts; test/stages/directory-emit.test.ts compares).
 */
napi_value DirectoryRecords(napi_env env, napi_callback_info info) {
  napi_value argv[13], result_ab, result;
  size_t argc = 13;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 13) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "directoryRecords takes 13 arguments");
    return NULL;
  }
  void *names, *child, *start, *length, *rows, *dirs_v, *special_v, *tpl, *out_v, *marks_v;
  size_t names_len, child_len, start_len, length_len, rows_len, ndirs, nspecial, tpl_len, out_len, nmarks;
  int64_t from, at, block_base;
  if (!arg_typed(env, argv[0], napi_uint8_array, "names", &names, &names_len) ||
      !arg_typed(env, argv[1], napi_int32_array, "linkChild", &child, &child_len) ||
      !arg_typed(env, argv[2], napi_int32_array, "linkStart", &start, &start_len) ||
      !arg_typed(env, argv[3], napi_int16_array, "linkLength", &length, &length_len) ||
      !arg_typed(env, argv[4], napi_float64_array, "rows", &rows, &rows_len) ||
      !arg_typed(env, argv[5], napi_int32_array, "dirs", &dirs_v, &ndirs) ||
      !arg_integer(env, argv[6], "from", 0, INT32_MAX, "an integer in range", &from) ||
      !arg_typed(env, argv[7], napi_uint8_array, "special", &special_v, &nspecial) ||
      !arg_typed(env, argv[8], napi_uint8_array, "template", &tpl, &tpl_len) ||
      !arg_typed(env, argv[9], napi_uint8_array, "out", &out_v, &out_len) ||
      !arg_integer(env, argv[10], "at", 0, INT64_MAX / 2, "an integer in range", &at) ||
      !arg_integer(env, argv[11], "blockBase", 0, INT32_MAX, "an integer in range", &block_base) ||
      !arg_typed(env, argv[12], napi_float64_array, "marks", &marks_v, &nmarks)) {
    return NULL;
  }
  if (tpl_len != TP_BSIZE || nspecial < ndirs || nmarks < 2 * ndirs || at % TP_BSIZE != 0 || rows_len % ROW != 0) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "directoryRecords: template, special, marks, at or rows out of range");
    return NULL;
  }
  const int32_t *dirs = dirs_v;
  const uint8_t *special = special_v;
  const double *r = rows;
  double *marks = marks_v;
  uint8_t *out = out_v;
  size_t nrows = rows_len / ROW, pos = (size_t)at, marked = 0;
  int64_t i = from;
  for (; i < (int64_t)ndirs; i++) {
    if (special[i]) break;
    int32_t dir = dirs[i];
    if (dir < 0 || (size_t)dir >= nrows) {
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "directoryRecords: a directory outside the table");
      return NULL;
    }
    const double *row = r + (size_t)dir * ROW;
    size_t parent = dir == 0 ? 0 : (size_t)row[X_PARENT];
    if (parent >= nrows) {
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "directoryRecords: a parent outside the table");
      return NULL;
    }
    struct dir_source s = {
      .names = names, .names_len = names_len, .link_child = child, .link_start = start, .link_length = length,
      .rows = r, .rows_len = rows_len, .stride = ROW, .col_ino = C_INO, .col_mode = C_MODE,
      .first = (int64_t)row[X_CHILD_START], .count = (int64_t)row[X_CHILD_COUNT],
      .dir_ino = (uint32_t)row[C_INO], .parent_ino = (uint32_t)r[parent * ROW + C_INO],
    };
    if (s.first < 0 || s.count < 0 || (size_t)(s.first + s.count) > child_len || (size_t)(s.first + s.count) > start_len ||
        (size_t)(s.first + s.count) > length_len) {
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "directoryRecords: links out of range");
      return NULL;
    }
    int bad = 0;
    size_t size = dir_measure(&s, &bad);
    if (bad) { throw_bad(env, bad, size); return NULL; }
    size_t blocks = (size + TP_BSIZE - 1) / TP_BSIZE;
    if (blocks > TP_NINDIR || pos + (1 + blocks) * TP_BSIZE > out_len) break;
    inode_header(out + pos, tpl, row, (double)size, (uint32_t)row[X_DUMP_FLAGS], (uint32_t)blocks);
    dir_write(&s, out + pos + TP_BSIZE, size);
    memset(out + pos + TP_BSIZE + size, 0, blocks * TP_BSIZE - size);
    marks[2 * marked] = row[C_INO];
    marks[2 * marked + 1] = (double)(block_base + (int64_t)(pos / TP_BSIZE));
    marked++;
    pos += (1 + blocks) * TP_BSIZE;
  }
  double *res;
  if (napi_create_arraybuffer(env, 3 * sizeof(double), (void **)&res, &result_ab) != napi_ok ||
      napi_create_typedarray(env, napi_float64_array, 3, result_ab, 0, &result) != napi_ok) {
    napi_throw_error(env, NULL, "directoryRecords: result");
    return NULL;
  }
  res[0] = (double)i;
  res[1] = (double)pos;
  res[2] = (double)marked;
  return result;
}
