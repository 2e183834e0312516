/*
 * Device nodes and timestamps: mknod and nanosecond lutimes, which Node's fs module does not
 * expose.
 */
#include "sysx-common.h"
#include "sysx-methods.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

napi_value Mknod(napi_env env, napi_callback_info info) {
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

napi_value LutimesNs(napi_env env, napi_callback_info info) {
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
