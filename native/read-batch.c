/*
 * readFileBatch: the small whole files of one read task of the backup's main-thread reader in
 * one call: each read into its place in the task's output and its tape header written before
 * it. Per file, readFiles (src/workers/read-files.ts) makes six fs calls from JavaScript (open,
 * the flags ioctl, listxattr, read, fstat, close) and encodes the header with a dozen DataView
 * stores; here the same work costs a few microseconds of system calls, and the main thread only
 * lays out the output and handles whatever is unusual (src/workers/read-files-batch.ts).
 *
 * It runs on the calling thread, on purpose: on the thread pool (napi_async_work, tried and
 * measured on a 2-core machine) each queued batch woke a pool thread that took the main
 * thread's core for about as long as the reads themselves, and the level 1 got slower.
 */
#include "sysx-common.h"
#include "sysx-methods.h"
#include "inode-header.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/fs.h>

/*
 * Per item, `plan` holds RB_PLAN doubles: [at, length]: write the item's header at buffer[at]
 * and the first `length` bytes of the file after it, the rest of the last 1 KiB block zeroed;
 * length < 0: leave the item alone (the JavaScript reader handles it). `results` gets RB_FIELDS
 * doubles per item: [status, flags, xattrBytes, bytesRead, size, mtimeSec, mtimeNsec, ctimeSec,
 * ctimeNsec]: status 0 = read and encoded (the rest describes the file: its inode flags, the
 * size of its xattr name list (0: none, -1: unknown), and its fstat after the read, to find a
 * file that changed); > 0 = the errno of the call that failed (the header is not written), which
 * the JavaScript reader repeats to report it as it always has; RB_SKIPPED = not asked.
 */
#define RB_PLAN 2
#define RB_FIELDS 9
#define RB_SKIPPED (-1)
#define RB_MAX_LENGTH ((double)TP_NINDIR * TP_BSIZE)

/* Flags as getFlags reports them: file systems without inode flags have none. */
static int rb_flags(int fd, double *out) {
  int flags = 0;
  if (ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) {
    if (errno != ENOTTY && errno != ENOTSUP && errno != EINVAL) return errno;
    flags = 0;
  }
  *out = (double)(uint32_t)flags;
  return 0;
}

/* As listXattrs treats ENOTSUP: no attributes. Other errors: unknown, listed again by path. */
static double rb_xattr_bytes(int fd) {
  ssize_t len = flistxattr(fd, NULL, 0);
  if (len >= 0) return (double)len;
  return errno == ENOTSUP ? 0 : -1;
}

/* Reads up to `length` bytes from offset 0 (short only at end of file); returns 0 or errno. */
static int rb_read(int fd, uint8_t *dst, size_t length, size_t *got) {
  size_t done = 0;
  while (done < length) {
    ssize_t n = pread(fd, dst + done, length - done, (off_t)done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) break;
    done += (size_t)n;
  }
  *got = done;
  return 0;
}

static void rb_one(const char *path, uint8_t *at, size_t length, const uint8_t *tpl, const double *row, double *r) {
  memset(r, 0, RB_FIELDS * sizeof(double));
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    r[0] = errno;
    return;
  }
  size_t got = 0;
  size_t padded = (length + TP_BSIZE - 1) / TP_BSIZE * TP_BSIZE;
  struct stat st;
  int err = rb_flags(fd, &r[1]);
  if (err == 0) {
    r[2] = rb_xattr_bytes(fd);
    err = rb_read(fd, at + TP_BSIZE, length, &got);
  }
  if (err == 0) {
    memset(at + TP_BSIZE + got, 0, padded - got);
    if (fstat(fd, &st) != 0) err = errno;
  }
  /* A read-only descriptor: a failing close loses nothing. */
  close(fd);
  if (err != 0) {
    r[0] = err;
    return;
  }
  inode_header(at, tpl, row, row[C_SIZE], (uint32_t)r[1], (uint32_t)(padded / TP_BSIZE));
  r[3] = (double)got;
  r[4] = (double)st.st_size;
  r[5] = (double)st.st_mtim.tv_sec;
  r[6] = (double)st.st_mtim.tv_nsec;
  r[7] = (double)st.st_ctim.tv_sec;
  r[8] = (double)st.st_ctim.tv_nsec;
}

/*
 * readFileBatch(paths, plan, buffer, results, template, rows): `paths` holds a NUL-terminated
 * path per item, `template` the 1 KiB TS_INODE header every file header starts from (the
 * volume's fields, checksum word 0), `rows` the task's item rows. Every asked item's header
 * and block-rounded data must lie inside `buffer` (checked before anything is read).
 */
napi_value ReadFileBatch(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  void *paths, *plan_v, *buffer_v, *results_v, *tpl_v, *rows_v;
  size_t paths_len, plan_len, buffer_len, results_len, tpl_len, rows_len;
  if (!get_args(env, info, 6, argv) ||
      !arg_typed(env, argv[0], napi_uint8_array, "paths", &paths, &paths_len) ||
      !arg_typed(env, argv[1], napi_float64_array, "plan", &plan_v, &plan_len) ||
      !arg_typed(env, argv[2], napi_uint8_array, "buffer", &buffer_v, &buffer_len) ||
      !arg_typed(env, argv[3], napi_float64_array, "results", &results_v, &results_len) ||
      !arg_typed(env, argv[4], napi_uint8_array, "template", &tpl_v, &tpl_len) ||
      !arg_typed(env, argv[5], napi_float64_array, "rows", &rows_v, &rows_len)) {
    return NULL;
  }
  const double *plan = plan_v, *rows = rows_v;
  double *results = results_v;
  uint8_t *buffer = buffer_v;
  if (plan_len % RB_PLAN != 0) {
    throw_arg_range(env, "plan", "2 values per item");
    return NULL;
  }
  size_t count = plan_len / RB_PLAN;
  if (results_len < count * RB_FIELDS) {
    throw_arg_range(env, "results", ">= 9 values per item");
    return NULL;
  }
  if (tpl_len != TP_BSIZE) {
    throw_arg_range(env, "template", "1024 bytes");
    return NULL;
  }
  if (rows_len < count * COLS) {
    throw_arg_range(env, "rows", ">= 26 values per item");
    return NULL;
  }
  const char **path_of = malloc((count ? count : 1) * sizeof(char *));
  if (path_of == NULL) {
    throw_errno(env, ENOMEM, "malloc", NULL);
    return NULL;
  }
  const char *s = paths, *end = s + paths_len;
  for (size_t i = 0; i < count; i++) {
    const char *nul = s < end ? memchr(s, 0, (size_t)(end - s)) : NULL;
    if (nul == NULL) {
      free(path_of);
      throw_arg_range(env, "paths", "a NUL-terminated path per item");
      return NULL;
    }
    path_of[i] = s;
    s = nul + 1;
    double at = plan[i * RB_PLAN], length = plan[i * RB_PLAN + 1];
    if (length < 0) continue;
    /* Ranges first: casting a double out of size_t's range is undefined. NaN fails them all. */
    if (!(at >= 0 && at <= (double)buffer_len && length >= 0 && length <= RB_MAX_LENGTH) ||
        at != (double)(size_t)at || length != (double)(size_t)length ||
        (size_t)at + TP_BSIZE + ((size_t)length + TP_BSIZE - 1) / TP_BSIZE * TP_BSIZE > buffer_len) {
      free(path_of);
      throw_arg_range(env, "plan", "items of at most 512 KiB inside buffer");
      return NULL;
    }
  }
  for (size_t i = 0; i < count; i++) {
    const double *p = plan + i * RB_PLAN;
    double *r = results + i * RB_FIELDS;
    if (p[1] < 0) {
      memset(r, 0, RB_FIELDS * sizeof(double));
      r[0] = RB_SKIPPED;
      continue;
    }
    rb_one(path_of[i], buffer + (size_t)p[0], (size_t)p[1], tpl_v, rows + i * COLS, r);
  }
  free(path_of);
  return NULL;
}
