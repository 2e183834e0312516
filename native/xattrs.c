/*
 * Extended attributes (never following symlinks: dump records the link): the l*xattr calls,
 * which Node's fs module does not expose.
 */
#include "sysx-common.h"
#include "sysx-methods.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/xattr.h>

/*
 * An xattr value or name list can change between the size query and the read;
 * retry a few times, but never spin forever on a file that keeps growing.
 */
#define XATTR_RETRIES 16

/* The value of xattr `name` of `path`, or its name list when name is NULL, into *buf (malloc'd;
 * NULL when empty). Returns its length, or -1 with errno set. */
static ssize_t read_sized(const char *path, const char *name, char **buf) {
  ssize_t len = 0;
  for (int attempt = 0;; attempt++) {
    len = name ? lgetxattr(path, name, NULL, 0) : llistxattr(path, NULL, 0);
    if (len <= 0) break;
    char *grown = realloc(*buf, (size_t)len);
    if (grown == NULL) {
      errno = ENOMEM;
      return -1;
    }
    *buf = grown;
    len = name ? lgetxattr(path, name, *buf, (size_t)len) : llistxattr(path, *buf, (size_t)len);
    if (len >= 0 || errno != ERANGE || attempt + 1 >= XATTR_RETRIES) break;
  }
  return len;
}

napi_value ListXattrs(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  if (!get_args(env, info, 1, argv)) return NULL;
  char *path = arg_string(env, argv[0], "path");
  if (path == NULL) return NULL;

  char *buf = NULL;
  ssize_t len = read_sized(path, NULL, &buf);

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

napi_value GetXattr(napi_env env, napi_callback_info info) {
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
  ssize_t len = read_sized(path, name, &buf);
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

napi_value SetXattr(napi_env env, napi_callback_info info) {
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

napi_value RemoveXattr(napi_env env, napi_callback_info info) {
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
