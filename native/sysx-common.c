/*
 * The helpers every part of the addon shares: errors thrown shaped like Node's fs errors
 * (code/errno/syscall/path) so callers can handle both the same way, and argument checks that
 * each return false with a JS exception pending. Declared in sysx-common.h.
 */
#include "sysx-common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    {ECANCELED, "ECANCELED", "operation canceled"},
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
napi_value errno_error(napi_env env, int err, const char *syscall,
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
void throw_errno(napi_env env, int err, const char *syscall,
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
void throw_napi_failure(napi_env env, const char *what) {
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

void throw_arg_type(napi_env env, const char *name, const char *expected) {
  char msg[160];
  snprintf(msg, sizeof(msg), "The \"%s\" argument must be %s", name, expected);
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
}

void throw_arg_range(napi_env env, const char *name, const char *expected) {
  char msg[160];
  snprintf(msg, sizeof(msg), "The value of \"%s\" is out of range. It must be %s",
           name, expected);
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
}

/* ------------------------------------------------------------------------ */
/* Argument helpers: each returns false with a JS exception pending.          */
/* ------------------------------------------------------------------------ */

bool get_args(napi_env env, napi_callback_info info, size_t want,
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
bool arg_integer(napi_env env, napi_value v, const char *name,
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

bool arg_fd(napi_env env, napi_value v, int *out) {
  int64_t fd;
  if (!arg_integer(env, v, "fd", 0, 2147483647.0, ">= 0 && <= 2147483647", &fd)) {
    return false;
  }
  *out = (int)fd;
  return true;
}

bool arg_offset(napi_env env, napi_value v, const char *name, int64_t *out) {
  return arg_integer(env, v, name, 0, MAX_SAFE_INT, ">= 0 && <= 2 ** 53 - 1", out);
}

bool arg_uint32(napi_env env, napi_value v, const char *name, uint32_t *out) {
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
char *arg_string(napi_env env, napi_value v, const char *name) {
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

bool arg_nsec(napi_env env, napi_value v, const char *name, long *out) {
  int64_t n;
  if (!arg_integer(env, v, name, 0, 999999999.0, ">= 0 && <= 999999999", &n)) {
    return false;
  }
  *out = (long)n;
  return true;
}

bool arg_sec(napi_env env, napi_value v, const char *name, time_t *out) {
  int64_t n;
  /* Pre-1970 timestamps are legitimate in archives, hence signed. */
  if (!arg_integer(env, v, name, -MAX_SAFE_INT, MAX_SAFE_INT,
                   ">= -(2 ** 53 - 1) && <= 2 ** 53 - 1", &n)) {
    return false;
  }
  *out = (time_t)n;
  return true;
}

bool arg_typed(napi_env env, napi_value v, napi_typedarray_type type, const char *name, void **data, size_t *length) {
  napi_typedarray_type got;
  bool is = false;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is &&
      napi_get_typedarray_info(env, v, &got, length, data, NULL, NULL) == napi_ok && got == type) return true;
  const char *expected = type == napi_uint8_array ? "a Uint8Array" : type == napi_int16_array ? "an Int16Array"
                       : type == napi_int32_array ? "an Int32Array" : type == napi_float64_array ? "a Float64Array" : "a typed array";
  throw_arg_type(env, name, expected);
  return false;
}
