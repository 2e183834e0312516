/*
 * In-kernel copy between files: copy_file_range(2) and sendfile(2), which Node's fs module
 * does not expose, so file data need not pass through user space.
 */
#include "sysx-common.h"
#include "sysx-methods.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/sendfile.h>
#include <sys/types.h>
#include <unistd.h>

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

napi_value CopyFileRange(napi_env env, napi_callback_info info) {
  return copy_in_kernel(env, info, false);
}

napi_value SendfileAt(napi_env env, napi_callback_info info) {
  return copy_in_kernel(env, info, true);
}
