/*
 * Raw stat into a Float64Array (lstatInto, fstatInto, lstatAt; the row layout is in
 * stat-row.h), and statx birth time, which Node's fs module does not expose.
 */
#include "sysx-common.h"
#include "stat-row.h"
#include "sysx-methods.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

napi_value StatxBirth(napi_env env, napi_callback_info info) {
  napi_value argv[1], result, sec, nsec;
  if (!get_args(env, info, 1, argv)) return NULL;
  char *path = arg_string(env, argv[0], "path");
  if (path == NULL) return NULL;

  struct statx stx;
  memset(&stx, 0, sizeof(stx));
  if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_STATX_SYNC_AS_STAT,
            STATX_BTIME, &stx) != 0) {
    /* A kernel without statx (< 4.11) cannot report birth times at all. */
    if (errno != ENOSYS) {
      throw_errno(env, errno, "statx", path);
      free(path);
      return NULL;
    }
    stx.stx_mask = 0;
  }
  free(path);

  /* Many filesystems (tmpfs, NFS, older XFS/ext3) have no birth time. */
  if (!(stx.stx_mask & STATX_BTIME)) {
    NAPI_CALL(env, napi_get_null(env, &result));
    return result;
  }
  NAPI_CALL(env, napi_create_object(env, &result));
  NAPI_CALL(env, napi_create_int64(env, (int64_t)stx.stx_btime.tv_sec, &sec));
  NAPI_CALL(env, napi_create_uint32(env, stx.stx_btime.tv_nsec, &nsec));
  NAPI_CALL(env, napi_set_named_property(env, result, "sec", sec));
  NAPI_CALL(env, napi_set_named_property(env, result, "nsec", nsec));
  return result;
}

static bool arg_stat_out(napi_env env, napi_value v, double **out) {
  bool is_typed = false;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, v, &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_float64_array || length < STAT_FIELDS) {
    throw_arg_type(env, "out", "a Float64Array of at least 15 elements");
    return false;
  }
  *out = (double *)data;
  return true;
}

void fill_stat(double *o, const struct stat *st) {
  o[0] = (double)st->st_dev;
  o[1] = (double)st->st_ino;
  o[2] = (double)st->st_mode;
  o[3] = (double)st->st_nlink;
  o[4] = (double)st->st_uid;
  o[5] = (double)st->st_gid;
  o[6] = (double)st->st_rdev;
  o[7] = (double)st->st_size;
  o[8] = (double)st->st_blocks;
  o[9] = (double)st->st_atim.tv_sec;
  o[10] = (double)st->st_atim.tv_nsec;
  o[11] = (double)st->st_mtim.tv_sec;
  o[12] = (double)st->st_mtim.tv_nsec;
  o[13] = (double)st->st_ctim.tv_sec;
  o[14] = (double)st->st_ctim.tv_nsec;
}

napi_value LstatInto(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  double *out;
  if (!get_args(env, info, 2, argv) || !arg_stat_out(env, argv[1], &out)) return NULL;
  char *path = arg_string(env, argv[0], "path");
  if (path == NULL) return NULL;
  struct stat st;
  if (lstat(path, &st) != 0) {
    throw_errno(env, errno, "lstat", path);
    free(path);
    return NULL;
  }
  free(path);
  fill_stat(out, &st);
  return NULL;
}

napi_value FstatInto(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  double *out;
  int fd;
  if (!get_args(env, info, 2, argv) || !arg_fd(env, argv[0], &fd) || !arg_stat_out(env, argv[1], &out)) return NULL;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    throw_errno(env, errno, "fstat", NULL);
    return NULL;
  }
  fill_stat(out, &st);
  return NULL;
}

/*
 * lstatAt(dir, names, out, first, stride, errors): lstat of every name of `names` (a byte
 * buffer of NUL-terminated names) in directory `dir`, by fstatat(2) on one descriptor of it:
 * one call per directory instead of one per entry, and no path resolution from the root for
 * each. Entry i goes to out[first + i * stride ...]; errors[i] gets 0 or its errno. Returns the
 * number of names. Throws only when `dir` cannot be opened.
 */
napi_value LstatAt(napi_env env, napi_callback_info info) {
  napi_value argv[6], result;
  double *out;
  if (!get_args(env, info, 6, argv)) return NULL;
  bool is_typed = false;
  napi_typedarray_type type;
  size_t out_len = 0, names_len = 0, err_len = 0;
  void *out_data = NULL, *names_data = NULL, *err_data = NULL;
  if (napi_is_typedarray(env, argv[2], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[2], &type, &out_len, &out_data, NULL, NULL) != napi_ok ||
      type != napi_float64_array) {
    throw_arg_type(env, "out", "a Float64Array");
    return NULL;
  }
  out = (double *)out_data;
  if (napi_is_typedarray(env, argv[1], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[1], &type, &names_len, &names_data, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    throw_arg_type(env, "names", "a Uint8Array");
    return NULL;
  }
  if (napi_is_typedarray(env, argv[5], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[5], &type, &err_len, &err_data, NULL, NULL) != napi_ok ||
      type != napi_int32_array) {
    throw_arg_type(env, "errors", "an Int32Array");
    return NULL;
  }
  int64_t first, stride;
  if (napi_get_value_int64(env, argv[3], &first) != napi_ok || napi_get_value_int64(env, argv[4], &stride) != napi_ok ||
      first < 0 || stride < STAT_FIELDS) {
    throw_arg_type(env, "first/stride", "integers (stride >= 15)");
    return NULL;
  }
  char *dir = arg_string(env, argv[0], "dir");
  if (dir == NULL) return NULL;
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    throw_errno(env, errno, "open", dir);
    free(dir);
    return NULL;
  }
  free(dir);
  const char *p = (const char *)names_data;
  const char *end = p + names_len;
  int64_t i = 0;
  while (p < end) {
    const char *nul = memchr(p, 0, (size_t)(end - p));
    if (nul == NULL) break;
    size_t at = (size_t)(first + i * stride);
    if ((size_t)i >= err_len || at + STAT_FIELDS > out_len) break;
    struct stat st;
    if (fstatat(dfd, p, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      fill_stat(out + at, &st);
      ((int32_t *)err_data)[i] = 0;
    } else {
      ((int32_t *)err_data)[i] = errno;
    }
    i++;
    p = nul + 1;
  }
  close(dfd);
  napi_create_int64(env, i, &result);
  return result;
}
