/*
 * Inode flags (chattr/lsattr), which Node's fs module does not expose.
 */
#include "sysx-common.h"
#include "sysx-methods.h"

#include <errno.h>
#include <sys/ioctl.h>
#include <linux/fs.h>

/*
 * FS_IOC_[GS]ETFLAGS are declared with a `long` argument, but every
 * filesystem reads and writes a 32-bit int; passing an int is what e2fsprogs
 * does and is correct on 64-bit big-endian machines too.
 */
napi_value GetFlags(napi_env env, napi_callback_info info) {
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

napi_value SetFlags(napi_env env, napi_callback_info info) {
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
