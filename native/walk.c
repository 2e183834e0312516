/*
 * One directory of the backup walk: listed, sorted and stat'ed (walk_collect, the unit of the
 * whole walk in walk-tree.c), and as one call (walkDir).
 */
#include "sysx-common.h"
#include "stat-row.h"
#include "sysx-methods.h"
#include "walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/fs.h>


/* Strict UTF-8 (no overlong forms, no surrogates, <= U+10FFFF) and no U+FFFD: the names a
 * JavaScript string holds exactly (listNames' rule). */
static bool exact_utf8(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) { i++; continue; }
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; }
    else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; }
    else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; }
    else return false;
    if (i + len > n) return false;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) return false;
    if ((cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffd) return false;
    i += len;
  }
  return true;
}

/* qsort has no context argument; one walkDir runs at a time per thread. */
static __thread const char *walk_sort_base;

static int cmp_name_offsets(const void *a, const void *b) {
  return strcmp(walk_sort_base + *(const size_t *)a, walk_sort_base + *(const size_t *)b);
}

static void fill_statx_row(double *o, const struct statx *x, bool birth) {
  o[0] = (double)makedev(x->stx_dev_major, x->stx_dev_minor);
  o[1] = (double)x->stx_ino;
  o[2] = (double)x->stx_mode;
  o[3] = (double)x->stx_nlink;
  o[4] = (double)x->stx_uid;
  o[5] = (double)x->stx_gid;
  o[6] = (double)makedev(x->stx_rdev_major, x->stx_rdev_minor);
  o[7] = (double)x->stx_size;
  o[8] = (double)x->stx_blocks;
  o[9] = (double)x->stx_atime.tv_sec;
  o[10] = (double)x->stx_atime.tv_nsec;
  o[11] = (double)x->stx_mtime.tv_sec;
  o[12] = (double)x->stx_mtime.tv_nsec;
  o[13] = (double)x->stx_ctime.tv_sec;
  o[14] = (double)x->stx_ctime.tv_nsec;
  bool has = birth && (x->stx_mask & STATX_BTIME);
  o[STAT_FIELDS + 1] = has ? (double)x->stx_btime.tv_sec : 0;
  o[STAT_FIELDS + 2] = has ? (double)x->stx_btime.tv_nsec : -1;
}

/*
 * walkDir(dir, birth, checkAccess): lists directory `dir` and stats every entry (statx on a
 * descriptor of it: stat and birth time in one system call), all in C: the walk's per-entry
 * cost was JavaScript strings, Node's readdir and a statx by full path. Returns
 * { names, rows, errors, raw }: names = Buffer of the names sorted by bytes (the tape's order),
 * each NUL-terminated; rows = Float64Array of WALK_COLS per entry (stat fields, 1/0 readable
 * (access(R_OK) of regular files when checkAccess, else 1), birth sec, birth nsec or -1);
 * errors = Int32Array, 0 or the errno of the entry's stat; raw = Int32Array of the indexes of
 * names that a JavaScript string cannot hold exactly (not UTF-8); flags = the directory's own
 * inode flags (FS_IOC_GETFLAGS, 0 where the file system has none, -1 when they could not be
 * read); xattrBytes = the size of its extended attribute name list (0: none, -1: unknown).
 * The directory is open anyway, so these two cost one system call each here, where reading
 * them later by path costs four (open, ioctl, listxattr, close) on the main thread. Throws
 * (syscall "scandir") when the directory cannot be opened or read, and when `dir` itself is a
 * symbolic link (O_NOFOLLOW): a directory swapped for a link since it was listed must not lead
 * the walk elsewhere.
 */
void walk_out_free(struct walk_out *w) {
  free(w->names);
  free(w->rows);
  free(w->errs);
  free(w->raw);
  free(w->starts);
  memset(w, 0, sizeof(*w));
}

/* The inode flags of open directory `fd` as GetFlags reports them (0 where the file system
 * has none), or -1 when they could not be read (the caller then asks again by path). */
static double walk_dir_flags(int fd) {
  int flags = 0;
  if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) return (double)(uint32_t)flags;
  return errno == ENOTTY || errno == ENOTSUP || errno == EINVAL ? 0 : -1;
}

/* Bytes of the xattr name list of open directory `fd` (0: none, as listXattrs treats ENOTSUP),
 * or -1 when unknown (the caller lists them by path, and reports the error). */
static int32_t walk_dir_xattr_bytes(int fd) {
  ssize_t len = flistxattr(fd, NULL, 0);
  if (len >= 0) return len > INT32_MAX ? INT32_MAX : (int32_t)len;
  return errno == ENOTSUP ? 0 : -1;
}

void walk_collect(const char *dir, bool birth, bool check_access, struct walk_out *w) {
  memset(w, 0, sizeof(*w));
  w->flags = -1;
  w->xattr_bytes = -1;
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  DIR *dp = dfd < 0 ? NULL : fdopendir(dfd);
  if (dp == NULL) {
    w->fail = errno;
    if (dfd >= 0) close(dfd);
    return;
  }
  double dir_flags = walk_dir_flags(dfd);
  int32_t dir_xattr_bytes = walk_dir_xattr_bytes(dfd);
  /* Names into one growing buffer; their offsets sorted afterwards. */
  size_t cap = 16384, used = 0, ncap = 256, n = 0;
  char *buf = malloc(cap);
  size_t *offs = malloc(ncap * sizeof(size_t));
  int fail = 0;
  if (buf == NULL || offs == NULL) fail = ENOMEM;
  for (;;) {
    if (fail) break;
    errno = 0;
    struct dirent *de = readdir(dp);
    if (de == NULL) { fail = errno; break; }
    const char *nm = de->d_name;
    if (nm[0] == '.' && (nm[1] == 0 || (nm[1] == '.' && nm[2] == 0))) continue;
    size_t len = strlen(nm) + 1;
    if (used + len > cap) {
      while (used + len > cap) cap *= 2;
      char *g = realloc(buf, cap);
      if (g == NULL) { fail = ENOMEM; break; }
      buf = g;
    }
    if (n == ncap) {
      size_t *g = realloc(offs, (ncap *= 2) * sizeof(size_t));
      if (g == NULL) { fail = ENOMEM; break; }
      offs = g;
    }
    memcpy(buf + used, nm, len);
    offs[n++] = used;
    used += len;
  }
  if (!fail) {
    walk_sort_base = buf;
    qsort(offs, n, sizeof(size_t), cmp_name_offsets);
    w->rows = malloc((n ? n : 1) * WALK_COLS * sizeof(double));
    w->errs = malloc((n ? n : 1) * sizeof(int32_t));
    w->raw = malloc((n ? n : 1) * sizeof(int32_t));
    w->names = malloc(used ? used : 1);
    w->starts = malloc((n ? n : 1) * sizeof(int32_t));
    if (w->rows == NULL || w->errs == NULL || w->raw == NULL || w->names == NULL || w->starts == NULL) fail = ENOMEM;
  }
  if (!fail) {
    int fd = dirfd(dp);
    bool use_statx = true;
    unsigned mask = STATX_BASIC_STATS | (birth ? STATX_BTIME : 0);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
      const char *nm = buf + offs[i];
      size_t len = strlen(nm) + 1;
      w->starts[i] = (int32_t)at;
      memcpy(w->names + at, nm, len);
      at += len;
      if (!exact_utf8((const unsigned char *)nm, len - 1)) w->raw[w->nraw++] = (int32_t)i;
      double *o = w->rows + i * WALK_COLS;
      struct statx x;
      int r = -1;
      if (use_statx) {
        r = statx(fd, nm, AT_SYMLINK_NOFOLLOW | AT_STATX_SYNC_AS_STAT, mask, &x);
        if (r != 0 && errno == ENOSYS) use_statx = false;
      }
      if (!use_statx) {
        struct stat st;
        r = fstatat(fd, nm, &st, AT_SYMLINK_NOFOLLOW);
        if (r == 0) {
          fill_stat(o, &st);
          o[STAT_FIELDS + 1] = 0;
          o[STAT_FIELDS + 2] = -1;
        }
      } else if (r == 0) {
        fill_statx_row(o, &x, birth);
      }
      if (r != 0) {
        w->errs[i] = errno;
        for (int k = 0; k < WALK_COLS; k++) o[k] = 0;
        continue;
      }
      w->errs[i] = 0;
      o[STAT_FIELDS] = 1;
      if (check_access && ((mode_t)o[2] & S_IFMT) == S_IFREG && faccessat(fd, nm, R_OK, 0) != 0) {
        o[STAT_FIELDS] = 0;
      }
    }
  }
  closedir(dp);
  free(buf);
  free(offs);
  if (fail) {
    walk_out_free(w);
    w->fail = fail;
    w->flags = -1;
    w->xattr_bytes = -1;
    return;
  }
  w->n = n;
  w->used = used;
  w->flags = dir_flags;
  w->xattr_bytes = dir_xattr_bytes;
}

static bool walk_typed(napi_env env, napi_typedarray_type type, size_t count, size_t size, const void *src, napi_value *out) {
  void *data;
  napi_value ab;
  if (napi_create_arraybuffer(env, count * size, &data, &ab) != napi_ok) return false;
  if (count) memcpy(data, src, count * size);
  return napi_create_typedarray(env, type, count, ab, 0, out) == napi_ok;
}

/* The JS object { names, rows, errors, raw, starts, flags, xattrBytes } of a collected
 * directory (NULL: N-API failed). */
static napi_value walk_result(napi_env env, const struct walk_out *w) {
  napi_value result, names_v, rows_v, errs_v, raw_v, starts_v, flags_v, xattrs_v;
  bool ok = napi_create_double(env, w->flags, &flags_v) == napi_ok &&
            napi_create_int32(env, w->xattr_bytes, &xattrs_v) == napi_ok &&
            napi_create_buffer_copy(env, w->used, w->used ? w->names : "", NULL, &names_v) == napi_ok &&
            walk_typed(env, napi_float64_array, w->n * WALK_COLS, sizeof(double), w->rows, &rows_v) &&
            walk_typed(env, napi_int32_array, w->n, sizeof(int32_t), w->errs, &errs_v) &&
            walk_typed(env, napi_int32_array, w->nraw, sizeof(int32_t), w->raw, &raw_v) &&
            walk_typed(env, napi_int32_array, w->n, sizeof(int32_t), w->starts, &starts_v) &&
            napi_create_object(env, &result) == napi_ok &&
            napi_set_named_property(env, result, "names", names_v) == napi_ok &&
            napi_set_named_property(env, result, "rows", rows_v) == napi_ok &&
            napi_set_named_property(env, result, "errors", errs_v) == napi_ok &&
            napi_set_named_property(env, result, "raw", raw_v) == napi_ok &&
            napi_set_named_property(env, result, "starts", starts_v) == napi_ok &&
            napi_set_named_property(env, result, "flags", flags_v) == napi_ok &&
            napi_set_named_property(env, result, "xattrBytes", xattrs_v) == napi_ok;
  return ok ? result : NULL;
}

static bool walk_args(napi_env env, napi_value *argv, char **dir, bool *birth, bool *check_access) {
  if (napi_get_value_bool(env, argv[1], birth) != napi_ok ||
      napi_get_value_bool(env, argv[2], check_access) != napi_ok) {
    throw_arg_type(env, "birth/checkAccess", "booleans");
    return false;
  }
  *dir = arg_string(env, argv[0], "dir");
  return *dir != NULL;
}

napi_value WalkDir(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char *dir;
  bool birth, check_access;
  if (!get_args(env, info, 3, argv) || !walk_args(env, argv, &dir, &birth, &check_access)) return NULL;
  struct walk_out w;
  walk_collect(dir, birth, check_access, &w);
  napi_value result = NULL;
  if (w.fail) {
    throw_errno(env, w.fail, "scandir", dir);
  } else if ((result = walk_result(env, &w)) == NULL) {
    throw_napi_failure(env, "walkDir result");
  }
  free(dir);
  walk_out_free(&w);
  return result;
}

