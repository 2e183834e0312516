/*
 * sysx: the handful of Linux syscalls a dump/restore engine needs and that
 * Node's fs module does not expose (SEEK_DATA/SEEK_HOLE, l*xattr, inode
 * flags, mknod, statx birth time, nanosecond lutimes).
 *
 * Everything is synchronous and stateless: the module keeps no globals, so
 * each worker thread that loads it gets an independent, equivalent instance.
 * Errors are thrown shaped like Node's fs errors (code/errno/syscall/path) so
 * callers can handle both the same way.
 *
 * Linux + glibc >= 2.28 (statx wrapper) is assumed; the project is a Linux
 * dump engine and these calls have no portable equivalent anyway.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#ifndef _FILE_OFFSET_BITS
#define _FILE_OFFSET_BITS 64
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <endian.h>

#include <linux/fs.h>

#define NAPI_VERSION 8
#include <node_api.h>

/* Tape offsets and sparse files routinely exceed 4 GiB. */
_Static_assert(sizeof(off_t) == 8, "sysx needs a 64-bit off_t");

/* Largest integer a JS number holds exactly (Number.MAX_SAFE_INTEGER). */
#define MAX_SAFE_INT 9007199254740991.0

/*
 * An xattr value or name list can change between the size query and the read;
 * retry a few times, but never spin forever on a file that keeps growing.
 */
#define XATTR_RETRIES 16

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * errno names and wording follow libuv, which is what Node's own fs errors
 * use, so messages look the same whichever layer produced them. Linux has
 * ENOTSUP == EOPNOTSUPP; Node reports that value as ENOTSUP.
 */
static const struct errno_name {
  int value;
  const char *code;
  const char *desc;
} errno_names[] = {
    {EPERM, "EPERM", "operation not permitted"},
    {ENOENT, "ENOENT", "no such file or directory"},
    {EINTR, "EINTR", "interrupted system call"},
    {EIO, "EIO", "i/o error"},
    {ENXIO, "ENXIO", "no such device or address"},
    {E2BIG, "E2BIG", "argument list too long"},
    {EBADF, "EBADF", "bad file descriptor"},
    {EAGAIN, "EAGAIN", "resource temporarily unavailable"},
    {ENOMEM, "ENOMEM", "not enough memory"},
    {EACCES, "EACCES", "permission denied"},
    {EFAULT, "EFAULT", "bad address in system call argument"},
    {EBUSY, "EBUSY", "resource busy or locked"},
    {EEXIST, "EEXIST", "file already exists"},
    {EXDEV, "EXDEV", "cross-device link not permitted"},
    {ENODEV, "ENODEV", "no such device"},
    {ENOTDIR, "ENOTDIR", "not a directory"},
    {EISDIR, "EISDIR", "illegal operation on a directory"},
    {EINVAL, "EINVAL", "invalid argument"},
    {ENFILE, "ENFILE", "file table overflow"},
    {EMFILE, "EMFILE", "too many open files"},
    {ENOTTY, "ENOTTY", "inappropriate ioctl for device"},
    {ETXTBSY, "ETXTBSY", "text file is busy"},
    {EFBIG, "EFBIG", "file too large"},
    {ENOSPC, "ENOSPC", "no space left on device"},
    {ESPIPE, "ESPIPE", "invalid seek"},
    {EROFS, "EROFS", "read-only file system"},
    {EMLINK, "EMLINK", "too many links"},
    {ERANGE, "ERANGE", "result too large"},
    {ENAMETOOLONG, "ENAMETOOLONG", "name too long"},
    {ENOSYS, "ENOSYS", "function not implemented"},
    {ELOOP, "ELOOP", "too many symbolic links encountered"},
    {ENODATA, "ENODATA", "no data available"},
    {EOVERFLOW, "EOVERFLOW", "value too large for defined data type"},
    {ENOTSUP, "ENOTSUP", "operation not supported"},
    {ESTALE, "ESTALE", "stale file handle"},
    {EUCLEAN, "EUCLEAN", "structure needs cleaning"},
    {EDQUOT, "EDQUOT", "disk quota exceeded"},
};

static const struct errno_name *lookup_errno(int err) {
  for (size_t i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++) {
    if (errno_names[i].value == err) return &errno_names[i];
  }
  return NULL;
}

static void set_string_prop(napi_env env, napi_value obj, const char *key,
                            const char *value) {
  napi_value v;
  if (napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v) == napi_ok) {
    napi_set_named_property(env, obj, key, v);
  }
}

/*
 * The error "CODE: description, syscall 'path'" with .code, .errno (negative,
 * as libuv reports it), .syscall and, when given, .path; NULL if N-API fails.
 */
static napi_value errno_error(napi_env env, int err, const char *syscall,
                              const char *path) {
  const struct errno_name *known = lookup_errno(err);
  const char *code = known ? known->code : "UNKNOWN";
  const char *desc = known ? known->desc : "unknown error";

  int len = path ? snprintf(NULL, 0, "%s: %s, %s '%s'", code, desc, syscall, path)
                 : snprintf(NULL, 0, "%s: %s, %s", code, desc, syscall);
  char *msg = len >= 0 ? malloc((size_t)len + 1) : NULL;
  if (msg == NULL) return NULL;
  if (path) {
    snprintf(msg, (size_t)len + 1, "%s: %s, %s '%s'", code, desc, syscall, path);
  } else {
    snprintf(msg, (size_t)len + 1, "%s: %s, %s", code, desc, syscall);
  }

  napi_value code_v, msg_v, error, errno_v;
  bool ok = napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_v) == napi_ok &&
            napi_create_string_utf8(env, msg, (size_t)len, &msg_v) == napi_ok &&
            napi_create_error(env, code_v, msg_v, &error) == napi_ok;
  free(msg);
  if (!ok) return NULL;
  if (napi_create_int32(env, -err, &errno_v) == napi_ok) {
    napi_set_named_property(env, error, "errno", errno_v);
  }
  set_string_prop(env, error, "syscall", syscall);
  if (path) set_string_prop(env, error, "path", path);
  return error;
}

/* Throws errno_error(err, syscall, path). */
static void throw_errno(napi_env env, int err, const char *syscall,
                        const char *path) {
  napi_value error = errno_error(env, err, syscall, path);
  if (error != NULL) {
    napi_throw(env, error);
    return;
  }
  const struct errno_name *known = lookup_errno(err);
  napi_throw_error(env, known ? known->code : "UNKNOWN", known ? known->desc : "unknown error");
}

/*
 * A failing napi_* call means a bug or an engine-level problem (e.g. out of
 * memory); surface it rather than returning garbage, unless the call itself
 * already left an exception pending.
 */
static void throw_napi_failure(napi_env env, const char *what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  char msg[256];
  snprintf(msg, sizeof(msg), "sysx: %s failed: %s", what,
           info && info->error_message ? info->error_message : "unknown N-API error");
  napi_throw_error(env, NULL, msg);
}

#define NAPI_CALL(env, call)             \
  do {                                   \
    if ((call) != napi_ok) {             \
      throw_napi_failure((env), #call); \
      return NULL;                       \
    }                                    \
  } while (0)

static void throw_arg_type(napi_env env, const char *name, const char *expected) {
  char msg[160];
  snprintf(msg, sizeof(msg), "The \"%s\" argument must be %s", name, expected);
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
}

static void throw_arg_range(napi_env env, const char *name, const char *expected) {
  char msg[160];
  snprintf(msg, sizeof(msg), "The value of \"%s\" is out of range. It must be %s",
           name, expected);
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
}

/* ------------------------------------------------------------------------ */
/* Argument helpers: each returns false with a JS exception pending.          */
/* ------------------------------------------------------------------------ */

static bool get_args(napi_env env, napi_callback_info info, size_t want,
                     napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    throw_napi_failure(env, "napi_get_cb_info");
    return false;
  }
  if (argc < want) {
    char msg[96];
    snprintf(msg, sizeof(msg), "expected %zu arguments, got %zu", want, argc);
    napi_throw_type_error(env, "ERR_MISSING_ARGS", msg);
    return false;
  }
  return true;
}

/*
 * JS numbers are doubles; insist on exact integers so that a stray 1.5 or
 * NaN is an error instead of being silently truncated into a file offset.
 */
static bool arg_integer(napi_env env, napi_value v, const char *name,
                        double min, double max, const char *range, int64_t *out) {
  napi_valuetype type;
  double d;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_number ||
      napi_get_value_double(env, v, &d) != napi_ok) {
    throw_arg_type(env, name, "of type number");
    return false;
  }
  if (!(d >= min && d <= max) || (double)(int64_t)d != d) {
    throw_arg_range(env, name, range);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

static bool arg_fd(napi_env env, napi_value v, int *out) {
  int64_t fd;
  if (!arg_integer(env, v, "fd", 0, 2147483647.0, ">= 0 && <= 2147483647", &fd)) {
    return false;
  }
  *out = (int)fd;
  return true;
}

static bool arg_offset(napi_env env, napi_value v, const char *name, int64_t *out) {
  return arg_integer(env, v, name, 0, MAX_SAFE_INT, ">= 0 && <= 2 ** 53 - 1", out);
}

static bool arg_uint32(napi_env env, napi_value v, const char *name, uint32_t *out) {
  int64_t n;
  if (!arg_integer(env, v, name, 0, 4294967295.0, ">= 0 && <= 4294967295", &n)) {
    return false;
  }
  *out = (uint32_t)n;
  return true;
}

/*
 * Returns a malloc'd NUL-terminated copy of a JS string, or NULL with an
 * exception pending. Embedded NULs are rejected: the kernel would silently
 * truncate the path or name at them, touching a different file or attribute.
 */
static char *arg_string(napi_env env, napi_value v, const char *name) {
  napi_valuetype type;
  size_t len = 0;
  bool is_typed = false;
  /* Paths may come as bytes (a Buffer): file names need not be valid UTF-8. */
  if (napi_typeof(env, v, &type) == napi_ok && type == napi_object &&
      napi_is_typedarray(env, v, &is_typed) == napi_ok && is_typed) {
    napi_typedarray_type ta_type;
    void *data = NULL;
    if (napi_get_typedarray_info(env, v, &ta_type, &len, &data, NULL, NULL) != napi_ok ||
        ta_type != napi_uint8_array) {
      throw_arg_type(env, name, "a string or a Uint8Array");
      return NULL;
    }
    if (memchr(data, 0, len) != NULL) {
      char msg[128];
      snprintf(msg, sizeof(msg), "The argument '%s' must not contain null bytes", name);
      napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", msg);
      return NULL;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL) {
      throw_errno(env, ENOMEM, "malloc", NULL);
      return NULL;
    }
    memcpy(copy, data, len);
    copy[len] = '\0';
    return copy;
  }
  if (type != napi_string) {
    throw_arg_type(env, name, "of type string");
    return NULL;
  }
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    throw_napi_failure(env, "napi_get_value_string_utf8");
    return NULL;
  }
  char *buf = malloc(len + 1);
  if (buf == NULL) {
    throw_errno(env, ENOMEM, "malloc", NULL);
    return NULL;
  }
  if (napi_get_value_string_utf8(env, v, buf, len + 1, &len) != napi_ok) {
    free(buf);
    throw_napi_failure(env, "napi_get_value_string_utf8");
    return NULL;
  }
  if (strlen(buf) != len) {
    free(buf);
    char msg[128];
    snprintf(msg, sizeof(msg),
             "The argument '%s' must be a string without null bytes", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", msg);
    return NULL;
  }
  return buf;
}

/* ------------------------------------------------------------------------ */
/* Sparse files                                                              */
/* ------------------------------------------------------------------------ */

static napi_value seek_common(napi_env env, napi_callback_info info, int whence) {
  napi_value argv[2], result;
  int fd;
  int64_t offset;
  if (!get_args(env, info, 2, argv) || !arg_fd(env, argv[0], &fd) ||
      !arg_offset(env, argv[1], "offset", &offset)) {
    return NULL;
  }
  off_t pos = lseek(fd, (off_t)offset, whence);
  if (pos < 0) {
    /* ENXIO is the normal "nothing further" answer, not a failure. */
    if (errno != ENXIO) {
      throw_errno(env, errno, "lseek", NULL);
      return NULL;
    }
    pos = -1;
  }
  NAPI_CALL(env, napi_create_int64(env, (int64_t)pos, &result));
  return result;
}

static napi_value SeekData(napi_env env, napi_callback_info info) {
  return seek_common(env, info, SEEK_DATA);
}

static napi_value SeekHole(napi_env env, napi_callback_info info) {
  return seek_common(env, info, SEEK_HOLE);
}

static bool push_extent(napi_env env, napi_value array, uint32_t index,
                        int64_t start, int64_t end) {
  napi_value pair, s, e;
  if (napi_create_array_with_length(env, 2, &pair) != napi_ok ||
      napi_create_int64(env, start, &s) != napi_ok ||
      napi_create_int64(env, end, &e) != napi_ok ||
      napi_set_element(env, pair, 0, s) != napi_ok ||
      napi_set_element(env, pair, 1, e) != napi_ok ||
      napi_set_element(env, array, index, pair) != napi_ok) {
    throw_napi_failure(env, "building extent list");
    return false;
  }
  return true;
}

/*
 * The whole SEEK_DATA/SEEK_HOLE walk happens here so that a file with many
 * extents costs one JS->C transition instead of two per extent. Extents are
 * clipped to `size` (the caller's idea of the file length, typically from
 * fstat) so a file that grows during the dump does not produce data past the
 * length already written into the tape header.
 */
static napi_value DataExtents(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  int fd;
  int64_t size;
  if (!get_args(env, info, 2, argv) || !arg_fd(env, argv[0], &fd) ||
      !arg_offset(env, argv[1], "size", &size)) {
    return NULL;
  }
  NAPI_CALL(env, napi_create_array(env, &result));

  /*
   * lseek moves the shared file position; put it back so a caller that mixes
   * this with read() (rather than pread) is not surprised.
   */
  off_t saved = lseek(fd, 0, SEEK_CUR);
  if (saved < 0) {
    throw_errno(env, errno, "lseek", NULL);
    return NULL;
  }

  uint32_t count = 0;
  int err = 0;
  bool napi_failed = false;
  off_t pos = 0;
  while (pos < size) {
    off_t data = lseek(fd, pos, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break; /* only holes remain */
      if (count == 0 && pos == 0 && (errno == EINVAL || errno == ENOTSUP)) {
        /* No SEEK_DATA support: every byte has to be treated as data. */
        napi_failed = !push_extent(env, result, count++, 0, size);
        break;
      }
      err = errno;
      break;
    }
    if (data >= size) break;

    off_t hole = lseek(fd, data, SEEK_HOLE);
    if (hole < 0) {
      /* ENXIO here means the file was truncated below `data` meanwhile. */
      if (errno != ENXIO) err = errno;
      break;
    }
    if (hole > size) hole = size;
    if (hole <= data) break; /* cannot happen on a stable file; never loop */

    if (!push_extent(env, result, count++, data, hole)) {
      napi_failed = true;
      break;
    }
    pos = hole;
  }

  if (lseek(fd, saved, SEEK_SET) < 0 && err == 0 && !napi_failed) {
    err = errno;
  }
  if (napi_failed) return NULL;
  if (err != 0) {
    throw_errno(env, err, "lseek", NULL);
    return NULL;
  }
  return result;
}

/* ------------------------------------------------------------------------ */
/* Extended attributes (never following symlinks: dump records the link)     */
/* ------------------------------------------------------------------------ */

static napi_value ListXattrs(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  if (!get_args(env, info, 1, argv)) return NULL;
  char *path = arg_string(env, argv[0], "path");
  if (path == NULL) return NULL;

  char *buf = NULL;
  ssize_t len = 0;
  for (int attempt = 0;; attempt++) {
    len = llistxattr(path, NULL, 0);
    if (len <= 0) break;
    char *grown = realloc(buf, (size_t)len);
    if (grown == NULL) {
      len = -1;
      errno = ENOMEM;
      break;
    }
    buf = grown;
    len = llistxattr(path, buf, (size_t)len);
    if (len >= 0 || errno != ERANGE || attempt + 1 >= XATTR_RETRIES) break;
  }

  if (len < 0) {
    int err = errno;
    free(buf);
    if (err == ENOTSUP) {
      free(path);
      NAPI_CALL(env, napi_create_array(env, &result));
      return result;
    }
    throw_errno(env, err, "llistxattr", path);
    free(path);
    return NULL;
  }
  free(path);

  if (napi_create_array(env, &result) != napi_ok) {
    free(buf);
    throw_napi_failure(env, "napi_create_array");
    return NULL;
  }
  uint32_t count = 0;
  for (ssize_t off = 0; off < len;) {
    /* The kernel NUL-terminates every name; stay in bounds regardless. */
    size_t n = strnlen(buf + off, (size_t)(len - off));
    if (n > 0) {
      napi_value name;
      if (napi_create_string_utf8(env, buf + off, n, &name) != napi_ok ||
          napi_set_element(env, result, count++, name) != napi_ok) {
        free(buf);
        throw_napi_failure(env, "building xattr name list");
        return NULL;
      }
    }
    off += (ssize_t)n + 1;
  }
  free(buf);
  return result;
}

static napi_value GetXattr(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  if (!get_args(env, info, 2, argv)) return NULL;
  char *path = arg_string(env, argv[0], "path");
  if (path == NULL) return NULL;
  char *name = arg_string(env, argv[1], "name");
  if (name == NULL) {
    free(path);
    return NULL;
  }

  char *buf = NULL;
  ssize_t len = 0;
  for (int attempt = 0;; attempt++) {
    len = lgetxattr(path, name, NULL, 0);
    if (len <= 0) break;
    char *grown = realloc(buf, (size_t)len);
    if (grown == NULL) {
      len = -1;
      errno = ENOMEM;
      break;
    }
    buf = grown;
    len = lgetxattr(path, name, buf, (size_t)len);
    if (len >= 0 || errno != ERANGE || attempt + 1 >= XATTR_RETRIES) break;
  }
  free(name);

  if (len < 0) {
    int err = errno;
    free(buf);
    throw_errno(env, err, "lgetxattr", path);
    free(path);
    return NULL;
  }
  free(path);

  napi_status status = napi_create_buffer_copy(env, (size_t)len, len > 0 ? buf : "",
                                               NULL, &result);
  free(buf);
  NAPI_CALL(env, status);
  return result;
}

static napi_value SetXattr(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;

  /* Buffer is a Uint8Array, so one typed-array path covers both. */
  bool is_typed = false;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (napi_is_typedarray(env, argv[2], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[2], &type, &length, &data, NULL, NULL) !=
          napi_ok ||
      type != napi_uint8_array) {
    throw_arg_type(env, "value", "an instance of Buffer or Uint8Array");
    return NULL;
  }

  char *path = arg_string(env, argv[0], "path");
  if (path == NULL) return NULL;
  char *name = arg_string(env, argv[1], "name");
  if (name == NULL) {
    free(path);
    return NULL;
  }
  /* data already points at byteOffset; it may be NULL for an empty array. */
  int rc = lsetxattr(path, name, length > 0 ? data : "", length, 0);
  int err = errno;
  free(name);
  if (rc != 0) throw_errno(env, err, "lsetxattr", path);
  free(path);
  return NULL;
}

static napi_value RemoveXattr(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  char *path = arg_string(env, argv[0], "path");
  if (path == NULL) return NULL;
  char *name = arg_string(env, argv[1], "name");
  if (name == NULL) {
    free(path);
    return NULL;
  }
  int rc = lremovexattr(path, name);
  int err = errno;
  free(name);
  if (rc != 0) throw_errno(env, err, "lremovexattr", path);
  free(path);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Inode flags (chattr/lsattr)                                               */
/* ------------------------------------------------------------------------ */

/*
 * FS_IOC_[GS]ETFLAGS are declared with a `long` argument, but every
 * filesystem reads and writes a 32-bit int; passing an int is what e2fsprogs
 * does and is correct on 64-bit big-endian machines too.
 */
static napi_value GetFlags(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  int fd;
  if (!get_args(env, info, 1, argv) || !arg_fd(env, argv[0], &fd)) return NULL;
  int flags = 0;
  if (ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) {
    /* Filesystems without inode flags (tmpfs before 6.0, FAT, ...) say so
     * with one of these; for a dump that simply means "no flags". */
    if (errno != ENOTTY && errno != ENOTSUP && errno != EINVAL) {
      throw_errno(env, errno, "ioctl", NULL);
      return NULL;
    }
    flags = 0;
  }
  NAPI_CALL(env, napi_create_uint32(env, (uint32_t)flags, &result));
  return result;
}

static napi_value SetFlags(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  uint32_t flags;
  if (!get_args(env, info, 2, argv) || !arg_fd(env, argv[0], &fd) ||
      !arg_uint32(env, argv[1], "flags", &flags)) {
    return NULL;
  }
  int value = (int)flags;
  if (ioctl(fd, FS_IOC_SETFLAGS, &value) != 0) {
    throw_errno(env, errno, "ioctl", NULL);
  }
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Device nodes and timestamps                                               */
/* ------------------------------------------------------------------------ */

static napi_value Mknod(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  uint32_t mode;
  int64_t rdev;
  if (!get_args(env, info, 3, argv) || !arg_uint32(env, argv[1], "mode", &mode) ||
      !arg_offset(env, argv[2], "rdev", &rdev)) {
    return NULL;
  }
  char *path = arg_string(env, argv[0], "path");
  if (path == NULL) return NULL;
  /* rdev arrives already encoded (glibc makedev layout) by the TS side. */
  if (mknod(path, (mode_t)mode, (dev_t)rdev) != 0) {
    throw_errno(env, errno, "mknod", path);
  }
  free(path);
  return NULL;
}

static napi_value StatxBirth(napi_env env, napi_callback_info info) {
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

static bool arg_nsec(napi_env env, napi_value v, const char *name, long *out) {
  int64_t n;
  if (!arg_integer(env, v, name, 0, 999999999.0, ">= 0 && <= 999999999", &n)) {
    return false;
  }
  *out = (long)n;
  return true;
}

static bool arg_sec(napi_env env, napi_value v, const char *name, time_t *out) {
  int64_t n;
  /* Pre-1970 timestamps are legitimate in archives, hence signed. */
  if (!arg_integer(env, v, name, -MAX_SAFE_INT, MAX_SAFE_INT,
                   ">= -(2 ** 53 - 1) && <= 2 ** 53 - 1", &n)) {
    return false;
  }
  *out = (time_t)n;
  return true;
}

static napi_value LutimesNs(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  struct timespec times[2];
  if (!get_args(env, info, 5, argv) ||
      !arg_sec(env, argv[1], "atimeSec", &times[0].tv_sec) ||
      !arg_nsec(env, argv[2], "atimeNsec", &times[0].tv_nsec) ||
      !arg_sec(env, argv[3], "mtimeSec", &times[1].tv_sec) ||
      !arg_nsec(env, argv[4], "mtimeNsec", &times[1].tv_nsec)) {
    return NULL;
  }
  char *path = arg_string(env, argv[0], "path");
  if (path == NULL) return NULL;
  if (utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW) != 0) {
    throw_errno(env, errno, "utimensat", path);
  }
  free(path);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Raw stat into a Float64Array                                              */
/* ------------------------------------------------------------------------ */

/*
 * The walk stats every object and the workers stat every file again; Node's
 * Stats objects (bigint ones for exact nanoseconds) cost far more than the
 * syscall. These fill a caller-owned Float64Array with the fields a dump needs:
 * [dev, ino, mode, nlink, uid, gid, rdev, size, blocks,
 *  atime_sec, atime_nsec, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec].
 */
#define STAT_FIELDS 15

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

static void fill_stat(double *o, const struct stat *st) {
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

static napi_value LstatInto(napi_env env, napi_callback_info info) {
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

static napi_value FstatInto(napi_env env, napi_callback_info info) {
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
static napi_value LstatAt(napi_env env, napi_callback_info info) {
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

/* Defined at the end of the file. */
static napi_value WalkDir(napi_env env, napi_callback_info info);
static napi_value WalkDirsAsync(napi_env env, napi_callback_info info);
static napi_value AdviseHugePages(napi_env env, napi_callback_info info);
/* native/direnc.c */
napi_value EncodeDirectory(napi_env env, napi_callback_info info);

/* ------------------------------------------------------------------------ */
/* In-kernel copy between files                                              */
/* ------------------------------------------------------------------------ */

/*
 * The in-kernel copies, (fdIn, offIn, fdOut, offOut, length) -> bytes copied, stopping early only
 * at the end of the source:
 * - copyFileRange: copy_file_range(2) at explicit offsets (neither file position moves). File data
 *   never passes through user space, which saves two memory copies per byte of a large file.
 * - sendfileAt: sendfile(2) from offIn (the input's position does not move) to offOut (the
 *   output's position is set there and moves on). Unlike copy_file_range it works between any
 *   two file systems; the data is copied once, page cache to page cache.
 */
static napi_value copy_in_kernel(napi_env env, napi_callback_info info, bool via_sendfile) {
  napi_value argv[5], result;
  int fd_in, fd_out;
  int64_t off_in, off_out, length;
  if (!get_args(env, info, 5, argv) || !arg_fd(env, argv[0], &fd_in) ||
      !arg_offset(env, argv[1], "offIn", &off_in) || !arg_fd(env, argv[2], &fd_out) ||
      !arg_offset(env, argv[3], "offOut", &off_out) || !arg_offset(env, argv[4], "length", &length)) {
    return NULL;
  }
  if (via_sendfile && lseek(fd_out, (off_t)off_out, SEEK_SET) < 0) {
    throw_errno(env, errno, "lseek", NULL);
    return NULL;
  }
  loff_t in = (loff_t)off_in, out = (loff_t)off_out;
  int64_t done = 0;
  while (done < length) {
    size_t want = (size_t)(length - done);
    ssize_t n = via_sendfile ? sendfile(fd_out, fd_in, &in, want) : copy_file_range(fd_in, &in, fd_out, &out, want, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(env, errno, via_sendfile ? "sendfile" : "copy_file_range", NULL);
      return NULL;
    }
    if (n == 0) break; /* end of the source */
    done += n;
  }
  NAPI_CALL(env, napi_create_double(env, (double)done, &result));
  return result;
}

static napi_value CopyFileRange(napi_env env, napi_callback_info info) {
  return copy_in_kernel(env, info, false);
}

static napi_value SendfileAt(napi_env env, napi_callback_info info) {
  return copy_in_kernel(env, info, true);
}

/* ------------------------------------------------------------------------ */
/* Restore's batched file writer                                             */
/* ------------------------------------------------------------------------ */

/*
 * writeFiles / writeFilesAsync: restore many small regular files in one call, each with
 * openat(dirfd, name, O_CREAT|O_EXCL|O_NOFOLLOW) (a short lookup relative to an open
 * directory, never through a symlink, never over an existing entry), pwrite of its
 * data segments, ftruncate for a trailing hole, fchown/fchmod when asked, futimens, close.
 * The async form runs on the libuv thread pool, so the main thread keeps parsing the image
 * while files are written, and two batches in flight use both cores.
 *
 * The batch is one buffer of records (little-endian, each a multiple of 8 bytes; built by
 * src/restore/file-batch.ts, which documents the layout). Results are WF_FIELDS int32 per
 * record: [status, stage, chownErrno, chmodErrno, timesErrno]. status 0 = written; > 0 = the
 * errno that failed it at `stage` (the file was removed again); WF_NOT_DONE = not attempted,
 * because an earlier record hit ENOSPC/EDQUOT/EIO/EROFS, which ends the batch. Failures of
 * fchown/fchmod/futimens other than those are warnings: the file stays.
 */
#define WF_FIELDS 5
#define WF_HEADER 64
#define WF_SEGMENT 16
#define WF_CHOWN 1u
#define WF_CHMOD 2u
#define WF_NOT_DONE (-1)

enum wf_stage { WF_OPEN = 1, WF_WRITE, WF_TRUNCATE, WF_OWNER, WF_MODE, WF_TIMES, WF_CLOSE, WF_RECORD };

static uint32_t wf_u32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return le32toh(v);
}

static uint64_t wf_u64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return le64toh(v);
}

static bool wf_stops(int err) {
  return err == ENOSPC || err == EDQUOT || err == EIO || err == EROFS;
}

/* Records a failure after the file was created: it is removed so nothing partial stays. */
static bool wf_fail(int fd, int dirfd, const char *name, int err, int stage, int32_t *r) {
  if (fd >= 0) close(fd);
  unlinkat(dirfd, name, 0);
  r[0] = err;
  r[1] = stage;
  return !wf_stops(err);
}

/* One record; returns false when the batch must stop. */
static bool wf_one(const uint8_t *rec, uint32_t reclen, int32_t *r) {
  int dirfd = (int32_t)wf_u32(rec + 4);
  mode_t perm = (mode_t)(wf_u32(rec + 8) & 07777);
  uint32_t opts = wf_u32(rec + 12);
  uid_t uid = (uid_t)wf_u32(rec + 16);
  gid_t gid = (gid_t)wf_u32(rec + 20);
  struct timespec times[2];
  times[0].tv_sec = (time_t)(int64_t)wf_u64(rec + 24);
  times[1].tv_sec = (time_t)(int64_t)wf_u64(rec + 32);
  times[0].tv_nsec = (long)wf_u32(rec + 40);
  times[1].tv_nsec = (long)wf_u32(rec + 44);
  uint64_t size = wf_u64(rec + 48);
  uint32_t name_len = wf_u32(rec + 56);
  uint32_t nseg = wf_u32(rec + 60);
  r[0] = r[1] = r[2] = r[3] = r[4] = 0;
  /* Name, then the data of every segment, then the segment table at the end of the record. */
  uint64_t data_at = WF_HEADER + (((uint64_t)name_len + 7) & ~(uint64_t)7);
  uint64_t seg_at = reclen - (uint64_t)nseg * WF_SEGMENT;
  if ((uint64_t)nseg * WF_SEGMENT > reclen || data_at > seg_at ||
      times[0].tv_nsec > 999999999 || times[1].tv_nsec > 999999999) {
    r[0] = EINVAL; r[1] = WF_RECORD;
    return true;
  }
  /* One component, never "", ".", ".." nor anything with '/' or NUL: the entry stays in dirfd. */
  char name[256];
  if (name_len == 0 || name_len > 255) {
    r[0] = name_len == 0 ? EINVAL : ENAMETOOLONG; r[1] = WF_OPEN;
    return true;
  }
  memcpy(name, rec + WF_HEADER, name_len);
  name[name_len] = '\0';
  if (memchr(name, '/', name_len) != NULL || memchr(name, 0, name_len) != NULL ||
      strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
    r[0] = EINVAL; r[1] = WF_OPEN;
    return true;
  }
  int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, perm);
  if (fd < 0) {
    r[0] = errno; r[1] = WF_OPEN;
    return !wf_stops(r[0]);
  }
  const uint8_t *data = rec + data_at;
  uint64_t avail = seg_at - data_at, end = 0;
  for (uint32_t s = 0; s < nseg; s++) {
    uint64_t off = wf_u64(rec + seg_at + (uint64_t)s * WF_SEGMENT);
    uint64_t len = wf_u64(rec + seg_at + (uint64_t)s * WF_SEGMENT + 8);
    if (len > avail) return wf_fail(fd, dirfd, name, EINVAL, WF_RECORD, r);
    uint64_t done = 0;
    while (done < len) {
      ssize_t n = pwrite(fd, data + done, (size_t)(len - done), (off_t)(off + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return wf_fail(fd, dirfd, name, errno, WF_WRITE, r);
      }
      if (n == 0) return wf_fail(fd, dirfd, name, ENOSPC, WF_WRITE, r);
      done += (uint64_t)n;
    }
    data += len;
    avail -= len;
    if (off + len > end) end = off + len;
  }
  /* A trailing hole: the size comes from ftruncate, no zeros are written. */
  if (end < size && ftruncate(fd, (off_t)size) != 0) return wf_fail(fd, dirfd, name, errno, WF_TRUNCATE, r);
  if ((opts & WF_CHOWN) && fchown(fd, uid, gid) != 0) {
    if (wf_stops(errno)) return wf_fail(fd, dirfd, name, errno, WF_OWNER, r);
    r[2] = errno;
  }
  /* After the chown, which clears set-id bits. */
  if ((opts & WF_CHMOD) && fchmod(fd, perm) != 0) {
    if (wf_stops(errno)) return wf_fail(fd, dirfd, name, errno, WF_MODE, r);
    r[3] = errno;
  }
  if (futimens(fd, times) != 0) {
    if (wf_stops(errno)) return wf_fail(fd, dirfd, name, errno, WF_TIMES, r);
    r[4] = errno;
  }
  /* Linux releases the descriptor even when close fails; EINTR is not a failure of the data. */
  if (close(fd) != 0 && errno != EINTR) return wf_fail(-1, dirfd, name, errno, WF_CLOSE, r);
  return true;
}

/* Writes every record of batch[0, used); returns the number of records. */
static uint32_t wf_run(const uint8_t *batch, size_t used, int32_t *res, size_t nres) {
  size_t at = 0;
  uint32_t i = 0;
  bool go = true;
  while (at + WF_HEADER <= used && (size_t)(i + 1) * WF_FIELDS <= nres) {
    int32_t *r = res + (size_t)i * WF_FIELDS;
    uint32_t reclen = wf_u32(batch + at);
    if (reclen < WF_HEADER || reclen % 8 != 0 || reclen > used - at) {
      /* A malformed batch (a bug on the JS side): nothing more is trusted. */
      r[0] = EINVAL; r[1] = WF_RECORD; r[2] = r[3] = r[4] = 0;
      i++;
      break;
    }
    if (go) {
      go = wf_one(batch + at, reclen, r);
    } else {
      r[0] = WF_NOT_DONE; r[1] = r[2] = r[3] = r[4] = 0;
    }
    at += reclen;
    i++;
  }
  return i;
}

struct wf_job {
  napi_async_work work;
  napi_ref batch_ref, results_ref, callback_ref;
  const uint8_t *batch;
  size_t used;
  int32_t *results;
  size_t nres;
  uint32_t count;
};

/* Parses (batch, used, results): returns false with an exception pending. */
static bool wf_args(napi_env env, napi_value *argv, const uint8_t **batch, size_t *used,
                    int32_t **results, size_t *nres) {
  bool is_typed = false;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (napi_is_typedarray(env, argv[0], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    throw_arg_type(env, "batch", "a Uint8Array");
    return false;
  }
  *batch = data;
  int64_t u;
  if (!arg_offset(env, argv[1], "used", &u)) return false;
  if ((uint64_t)u > length) {
    throw_arg_range(env, "used", "<= batch.length");
    return false;
  }
  *used = (size_t)u;
  if (napi_is_typedarray(env, argv[2], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[2], &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_int32_array) {
    throw_arg_type(env, "results", "an Int32Array");
    return false;
  }
  *results = data;
  *nres = length;
  return true;
}

static napi_value WriteFiles(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  const uint8_t *batch;
  size_t used, nres;
  int32_t *results;
  if (!get_args(env, info, 3, argv) || !wf_args(env, argv, &batch, &used, &results, &nres)) return NULL;
  uint32_t n = wf_run(batch, used, results, nres);
  NAPI_CALL(env, napi_create_uint32(env, n, &result));
  return result;
}

static void wf_execute(napi_env env, void *data) {
  (void)env;
  struct wf_job *job = data;
  job->count = wf_run(job->batch, job->used, job->results, job->nres);
}

static void wf_complete(napi_env env, napi_status status, void *data) {
  struct wf_job *job = data;
  napi_value cb, undefined, argv[2];
  if (napi_get_reference_value(env, job->callback_ref, &cb) == napi_ok &&
      napi_get_undefined(env, &undefined) == napi_ok) {
    if (status == napi_ok) {
      argv[0] = undefined;
      napi_create_uint32(env, job->count, &argv[1]);
    } else {
      napi_value msg;
      napi_create_string_utf8(env, "sysx: writeFilesAsync was cancelled", NAPI_AUTO_LENGTH, &msg);
      napi_create_error(env, NULL, msg, &argv[0]);
      napi_create_uint32(env, 0, &argv[1]);
    }
    napi_call_function(env, undefined, cb, 2, argv, NULL);
  }
  napi_delete_reference(env, job->batch_ref);
  napi_delete_reference(env, job->results_ref);
  napi_delete_reference(env, job->callback_ref);
  napi_delete_async_work(env, job->work);
  free(job);
}

/* writeFilesAsync(batch, used, results, callback(err, count)): the buffers stay referenced until the callback. */
static napi_value WriteFilesAsync(napi_env env, napi_callback_info info) {
  napi_value argv[4], name;
  napi_valuetype type;
  struct wf_job *job = calloc(1, sizeof(*job));
  if (job == NULL) {
    throw_errno(env, ENOMEM, "calloc", NULL);
    return NULL;
  }
  if (!get_args(env, info, 4, argv) ||
      !wf_args(env, argv, &job->batch, &job->used, &job->results, &job->nres)) {
    free(job);
    return NULL;
  }
  if (napi_typeof(env, argv[3], &type) != napi_ok || type != napi_function) {
    free(job);
    throw_arg_type(env, "callback", "a function");
    return NULL;
  }
  if (napi_create_reference(env, argv[0], 1, &job->batch_ref) != napi_ok ||
      napi_create_reference(env, argv[2], 1, &job->results_ref) != napi_ok ||
      napi_create_reference(env, argv[3], 1, &job->callback_ref) != napi_ok ||
      napi_create_string_utf8(env, "sysx.writeFiles", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, wf_execute, wf_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    /* Leaks the references made so far: only reachable when N-API itself is failing. */
    throw_napi_failure(env, "writeFilesAsync");
    return NULL;
  }
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Registration                                                              */
/* ------------------------------------------------------------------------ */

#define METHOD(name, fn) \
  { name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL }

/* NAPI_MODULE_INIT makes the addon context-aware: it is initialised once per
 * Node environment (main thread and each worker), never shared. */
NAPI_MODULE_INIT() {
  static const napi_property_descriptor methods[] = {
      METHOD("seekData", SeekData),
      METHOD("seekHole", SeekHole),
      METHOD("dataExtents", DataExtents),
      METHOD("listXattrs", ListXattrs),
      METHOD("getXattr", GetXattr),
      METHOD("setXattr", SetXattr),
      METHOD("removeXattr", RemoveXattr),
      METHOD("getFlags", GetFlags),
      METHOD("setFlags", SetFlags),
      METHOD("mknod", Mknod),
      METHOD("statxBirth", StatxBirth),
      METHOD("lutimesNs", LutimesNs),
      METHOD("lstatInto", LstatInto),
      METHOD("fstatInto", FstatInto),
      METHOD("lstatAt", LstatAt),
      METHOD("walkDir", WalkDir),
      METHOD("walkDirsAsync", WalkDirsAsync),
      METHOD("adviseHugePages", AdviseHugePages),
      METHOD("encodeDirectory", EncodeDirectory),
      METHOD("copyFileRange", CopyFileRange),
      METHOD("sendfileAt", SendfileAt),
      METHOD("writeFiles", WriteFiles),
      METHOD("writeFilesAsync", WriteFilesAsync),
  };
  if (napi_define_properties(env, exports, sizeof(methods) / sizeof(methods[0]),
                             methods) != napi_ok) {
    throw_napi_failure(env, "napi_define_properties");
    return NULL;
  }
  return exports;
}

/* ------------------------------------------------------------------------ */
/* One directory of the backup walk in one call                              */
/* ------------------------------------------------------------------------ */

#include <dirent.h>
#include <sys/sysmacros.h>

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

static napi_value WalkDir(napi_env env, napi_callback_info info) {
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

static napi_value WalkDirsAsync(napi_env env, napi_callback_info info) {
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

/* ------------------------------------------------------------------------ */
/* Huge pages for a large table                                              */
/* ------------------------------------------------------------------------ */

#include <sys/mman.h>

#define HUGE_PAGE_BYTES ((uintptr_t)2 << 20)

/*
 * adviseHugePages(view): madvise(MADV_HUGEPAGE) on the whole 2 MiB pages inside the memory of
 * typed array `view`, before it is written: the walk's entry table is tens of megabytes filled
 * row by row and scanned several times, and on a virtual machine one fault (and one TLB entry)
 * per 2 MiB costs far less than one per 4 KiB. Returns the bytes advised: 0 when the view
 * holds no whole huge page, or the kernel has no transparent huge pages (a hint, never an
 * error).
 */
static napi_value AdviseHugePages(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  if (!get_args(env, info, 1, argv)) return NULL;
  bool is_typed = false;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (napi_is_typedarray(env, argv[0], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL, NULL) != napi_ok) {
    throw_arg_type(env, "view", "a TypedArray");
    return NULL;
  }
  size_t element = type == napi_float64_array || type == napi_bigint64_array || type == napi_biguint64_array ? 8
                 : type == napi_int32_array || type == napi_uint32_array || type == napi_float32_array ? 4
                 : type == napi_int16_array || type == napi_uint16_array ? 2 : 1;
  uintptr_t start = ((uintptr_t)data + HUGE_PAGE_BYTES - 1) & ~(HUGE_PAGE_BYTES - 1);
  uintptr_t end = ((uintptr_t)data + length * element) & ~(HUGE_PAGE_BYTES - 1);
  double advised = 0;
  if (data != NULL && end > start && madvise((void *)start, end - start, MADV_HUGEPAGE) == 0) advised = (double)(end - start);
  NAPI_CALL(env, napi_create_double(env, advised, &result));
  return result;
}
