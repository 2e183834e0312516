/*
 * Restore's batched file writer: many small files in one call instead of several fs calls
 * each, optionally on the libuv thread pool.
 */
#include "sysx-common.h"
#include "sysx-methods.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

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

napi_value WriteFiles(napi_env env, napi_callback_info info) {
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
napi_value WriteFilesAsync(napi_env env, napi_callback_info info) {
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
