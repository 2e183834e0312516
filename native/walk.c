/*
 * One directory of the backup walk in one call (walkDir), and many on the libuv thread pool
 * (walkDirsAsync).
 */
#include "sysx-common.h"
#include "stat-row.h"
#include "sysx-methods.h"

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

/* Columns of a walk row (src/workers/walk-dirs.ts): the STAT_FIELDS, readable, birth sec/nsec. */
#define WALK_COLS (STAT_FIELDS + 3)

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

static void walk_out_free(struct walk_out *w) {
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

/* Lists and stats directory `dir` into `w` (no N-API: runs on any thread). */
static void walk_collect(const char *dir, bool birth, bool check_access, struct walk_out *w) {
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

/*
 * walkDirsAsync(dirs, birth, checkAccess, callback(err, results)): walkDir of every directory
 * of `dirs` (strings or Uint8Arrays) on the libuv thread pool, so the walk's system calls run
 * on several cores without worker threads (whose start-up costs more than a small walk).
 * The listings come back concatenated (wd_result).
 */
struct wd_job {
  napi_async_work work;
  napi_ref callback_ref;
  bool birth, check_access;
  size_t ndirs;
  char **dirs;
  int *fails;            /* per directory: 0, or the errno that kept it from being listed */
  int32_t *counts;       /* per directory: entries, or -1 */
  double *dir_flags;     /* per directory: its inode flags, -1: unknown */
  int32_t *dir_xattrs;   /* per directory: size of its xattr name list, -1: unknown */
  struct walk_out all;   /* every listing concatenated; starts and raw index the whole */
};

static void wd_job_free(napi_env env, struct wd_job *job) {
  for (size_t i = 0; job->dirs && i < job->ndirs; i++) free(job->dirs[i]);
  free(job->dirs);
  free(job->fails);
  free(job->counts);
  free(job->dir_flags);
  free(job->dir_xattrs);
  walk_out_free(&job->all);
  if (job->callback_ref) napi_delete_reference(env, job->callback_ref);
  if (job->work) napi_delete_async_work(env, job->work);
  free(job);
}

/* Lists every directory, then concatenates the listings, all on the pool thread: the main
 * thread only wraps the buffers (no copy). */
static void wd_execute(napi_env env, void *data) {
  (void)env;
  struct wd_job *job = data;
  struct walk_out *outs = calloc(job->ndirs ? job->ndirs : 1, sizeof(struct walk_out));
  if (outs == NULL) {
    for (size_t i = 0; i < job->ndirs; i++) {
      job->fails[i] = ENOMEM;
      job->counts[i] = -1;
      job->dir_flags[i] = -1;
      job->dir_xattrs[i] = -1;
    }
    return;
  }
  size_t n = 0, used = 0, nraw = 0;
  for (size_t i = 0; i < job->ndirs; i++) {
    walk_collect(job->dirs[i], job->birth, job->check_access, &outs[i]);
    if (outs[i].fail) continue;
    n += outs[i].n;
    used += outs[i].used;
    nraw += outs[i].nraw;
  }
  struct walk_out *all = &job->all;
  all->names = malloc(used ? used : 1);
  all->rows = malloc((n ? n : 1) * WALK_COLS * sizeof(double));
  all->errs = malloc((n ? n : 1) * sizeof(int32_t));
  all->starts = malloc((n ? n : 1) * sizeof(int32_t));
  all->raw = malloc((nraw ? nraw : 1) * sizeof(int32_t));
  bool ok = all->names && all->rows && all->errs && all->starts && all->raw;
  for (size_t i = 0; i < job->ndirs; i++) {
    struct walk_out *w = &outs[i];
    if (w->fail || !ok) {
      job->fails[i] = w->fail ? w->fail : ENOMEM;
      job->counts[i] = -1;
      job->dir_flags[i] = -1;
      job->dir_xattrs[i] = -1;
    } else {
      job->counts[i] = (int32_t)w->n;
      job->dir_flags[i] = w->flags;
      job->dir_xattrs[i] = w->xattr_bytes;
      if (w->used) memcpy(all->names + all->used, w->names, w->used);
      if (w->n) {
        memcpy(all->rows + all->n * WALK_COLS, w->rows, w->n * WALK_COLS * sizeof(double));
        memcpy(all->errs + all->n, w->errs, w->n * sizeof(int32_t));
      }
      for (size_t k = 0; k < w->nraw; k++) all->raw[all->nraw++] = (int32_t)(all->n + (size_t)w->raw[k]);
      for (size_t k = 0; k < w->n; k++) all->starts[all->n + k] = (int32_t)(all->used + (size_t)w->starts[k]);
      all->n += w->n;
      all->used += w->used;
    }
    walk_out_free(w);
  }
  free(outs);
}

static void wd_free_data(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

/* A typed array over `*data` (count elements of `size` bytes), which it takes over (*data = NULL). */
static bool wd_wrap(napi_env env, napi_typedarray_type type, size_t count, size_t size, void *pdata, napi_value *out) {
  void **data = pdata;
  napi_value ab;
  if (napi_create_external_arraybuffer(env, *data, count * size, wd_free_data, NULL, &ab) != napi_ok) return false;
  *data = NULL;
  return napi_create_typedarray(env, type, count, ab, 0, out) == napi_ok;
}

/*
 * The JS result of a job: every listing concatenated (one allocation per field, not per
 * directory): { counts: Int32Array (entries per directory, -1: not listed), failures: array of
 * the Error of each directory not listed (undefined for the others), names, rows, errors (as
 * walkDir's, all directories in order), starts (of each name in `names`), raw (entry indexes),
 * dirFlags: Float64Array and dirXattrs: Int32Array (walkDir's flags and xattrBytes of each
 * directory, -1 for those not listed) }.
 */
static napi_value wd_result(napi_env env, struct wd_job *job) {
  struct walk_out *all = &job->all;
  napi_value result, counts_v, failures_v, names_v, rows_v, errs_v, starts_v, raw_v, dir_flags_v, dir_xattrs_v;
  if (napi_create_array_with_length(env, job->ndirs, &failures_v) != napi_ok) return NULL;
  for (size_t i = 0; i < job->ndirs; i++) {
    if (!job->fails[i]) continue;
    napi_value e = errno_error(env, job->fails[i], "scandir", job->dirs[i]);
    if (e == NULL || napi_set_element(env, failures_v, (uint32_t)i, e) != napi_ok) return NULL;
  }
  size_t used = all->used, n = all->n, nraw = all->nraw;
  if (napi_create_external_buffer(env, used, all->names, wd_free_data, NULL, &names_v) != napi_ok) return NULL;
  all->names = NULL;
  if (!wd_wrap(env, napi_int32_array, job->ndirs, sizeof(int32_t), &job->counts, &counts_v) ||
      !wd_wrap(env, napi_float64_array, job->ndirs, sizeof(double), &job->dir_flags, &dir_flags_v) ||
      !wd_wrap(env, napi_int32_array, job->ndirs, sizeof(int32_t), &job->dir_xattrs, &dir_xattrs_v) ||
      !wd_wrap(env, napi_float64_array, n * WALK_COLS, sizeof(double), &all->rows, &rows_v) ||
      !wd_wrap(env, napi_int32_array, n, sizeof(int32_t), &all->errs, &errs_v) ||
      !wd_wrap(env, napi_int32_array, n, sizeof(int32_t), &all->starts, &starts_v) ||
      !wd_wrap(env, napi_int32_array, nraw, sizeof(int32_t), &all->raw, &raw_v)) return NULL;
  if (napi_create_object(env, &result) != napi_ok ||
      napi_set_named_property(env, result, "counts", counts_v) != napi_ok ||
      napi_set_named_property(env, result, "failures", failures_v) != napi_ok ||
      napi_set_named_property(env, result, "names", names_v) != napi_ok ||
      napi_set_named_property(env, result, "rows", rows_v) != napi_ok ||
      napi_set_named_property(env, result, "errors", errs_v) != napi_ok ||
      napi_set_named_property(env, result, "starts", starts_v) != napi_ok ||
      napi_set_named_property(env, result, "raw", raw_v) != napi_ok ||
      napi_set_named_property(env, result, "dirFlags", dir_flags_v) != napi_ok ||
      napi_set_named_property(env, result, "dirXattrs", dir_xattrs_v) != napi_ok) return NULL;
  return result;
}

static void wd_complete(napi_env env, napi_status status, void *data) {
  struct wd_job *job = data;
  napi_value cb, undefined, argv[2];
  if (napi_get_reference_value(env, job->callback_ref, &cb) == napi_ok &&
      napi_get_undefined(env, &undefined) == napi_ok) {
    argv[1] = status == napi_ok ? wd_result(env, job) : NULL;
    if (argv[1] != NULL) {
      argv[0] = undefined;
    } else {
      bool pending = false;
      napi_value msg, ignored;
      napi_is_exception_pending(env, &pending);
      if (pending) napi_get_and_clear_last_exception(env, &ignored);
      napi_create_string_utf8(env, status == napi_ok ? "sysx: walkDirsAsync result failed" : "sysx: walkDirsAsync was cancelled", NAPI_AUTO_LENGTH, &msg);
      napi_create_error(env, NULL, msg, &argv[0]);
      argv[1] = undefined;
    }
    napi_call_function(env, undefined, cb, 2, argv, NULL);
  }
  wd_job_free(env, job);
}

napi_value WalkDirsAsync(napi_env env, napi_callback_info info) {
  napi_value argv[4], name;
  napi_valuetype type;
  bool is_array = false;
  uint32_t n = 0;
  if (!get_args(env, info, 4, argv)) return NULL;
  if (napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[0], &n) != napi_ok) {
    throw_arg_type(env, "dirs", "an Array");
    return NULL;
  }
  if (napi_typeof(env, argv[3], &type) != napi_ok || type != napi_function) {
    throw_arg_type(env, "callback", "a function");
    return NULL;
  }
  struct wd_job *job = calloc(1, sizeof(*job));
  if (job == NULL) {
    throw_errno(env, ENOMEM, "calloc", NULL);
    return NULL;
  }
  job->dirs = calloc(n ? n : 1, sizeof(char *));
  job->fails = calloc(n ? n : 1, sizeof(int));
  job->counts = calloc(n ? n : 1, sizeof(int32_t));
  job->dir_flags = calloc(n ? n : 1, sizeof(double));
  job->dir_xattrs = calloc(n ? n : 1, sizeof(int32_t));
  if (job->dirs == NULL || job->fails == NULL || job->counts == NULL || job->dir_flags == NULL || job->dir_xattrs == NULL) {
    wd_job_free(env, job);
    throw_errno(env, ENOMEM, "calloc", NULL);
    return NULL;
  }
  job->ndirs = n;
  if (napi_get_value_bool(env, argv[1], &job->birth) != napi_ok ||
      napi_get_value_bool(env, argv[2], &job->check_access) != napi_ok) {
    wd_job_free(env, job);
    throw_arg_type(env, "birth/checkAccess", "booleans");
    return NULL;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    if (napi_get_element(env, argv[0], i, &v) != napi_ok || (job->dirs[i] = arg_string(env, v, "dirs[i]")) == NULL) {
      wd_job_free(env, job);
      return NULL;
    }
  }
  if (napi_create_reference(env, argv[3], 1, &job->callback_ref) != napi_ok ||
      napi_create_string_utf8(env, "sysx.walkDirs", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, wd_execute, wd_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    wd_job_free(env, job);
    throw_napi_failure(env, "walkDirsAsync");
    return NULL;
  }
  return NULL;
}
