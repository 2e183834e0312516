/*
 * Sparse files: SEEK_DATA/SEEK_HOLE, which Node's fs module does not expose, so that a dump
 * can find the data of a file without reading its holes.
 */
#include "sysx-common.h"
#include "sysx-methods.h"

#include <errno.h>
#include <sys/types.h>
#include <unistd.h>

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

napi_value SeekData(napi_env env, napi_callback_info info) {
  return seek_common(env, info, SEEK_DATA);
}

napi_value SeekHole(napi_env env, napi_callback_info info) {
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
napi_value DataExtents(napi_env env, napi_callback_info info) {
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
