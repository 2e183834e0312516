/*
 * readFilesAsync: the system calls of one read task of the backup's main-thread reader, on the
 * libuv thread pool. On the main thread each small file costs six calls (open, the flags ioctl,
 * listxattr, read, fstat, close) that then wait for nothing but themselves; here they overlap
 * the main thread's own work (the directory phase, encoding headers of the previous task), and
 * the main thread only lays out the output and writes the headers
 * (src/workers/read-files-batch.ts).
 */
#include "sysx-common.h"
#include "sysx-methods.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/fs.h>

/*
 * Per item, `plan` holds RB_PLAN doubles: [dataAt, length]: read the first `length` bytes of the
 * file into buffer[dataAt, ...) and zero the rest of its last 1 KiB block; length < 0: leave the
 * item alone (the JavaScript reader handles it). `results` gets RB_FIELDS doubles per item:
 * [status, flags, xattrBytes, bytesRead, size, mtimeSec, mtimeNsec, ctimeSec, ctimeNsec]:
 * status 0 = read (the rest describes the file: its inode flags, the size of its xattr name list
 * (0: none, -1: unknown), and its fstat after the read, to find a file that changed); > 0 = the
 * errno of the call that failed, which the JavaScript reader repeats to report it as it always
 * has; RB_SKIPPED = not asked.
 */
#define RB_PLAN 2
#define RB_FIELDS 9
#define RB_SKIPPED (-1)
#define RB_BLOCK 1024
/* One tape header's worth of data: larger files go through the JavaScript reader. */
#define RB_MAX_LENGTH (512.0 * RB_BLOCK)

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

static void rb_one(const char *path, uint8_t *dst, size_t length, double *r) {
  memset(r, 0, RB_FIELDS * sizeof(double));
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    r[0] = errno;
    return;
  }
  size_t got = 0;
  struct stat st;
  int err = rb_flags(fd, &r[1]);
  if (err == 0) {
    r[2] = rb_xattr_bytes(fd);
    err = rb_read(fd, dst, length, &got);
  }
  if (err == 0) {
    size_t padded = (length + RB_BLOCK - 1) / RB_BLOCK * RB_BLOCK;
    memset(dst + got, 0, padded - got);
    if (fstat(fd, &st) != 0) err = errno;
  }
  /* A read-only descriptor: a failing close loses nothing. */
  close(fd);
  if (err != 0) {
    r[0] = err;
    return;
  }
  r[3] = (double)got;
  r[4] = (double)st.st_size;
  r[5] = (double)st.st_mtim.tv_sec;
  r[6] = (double)st.st_mtim.tv_nsec;
  r[7] = (double)st.st_ctim.tv_sec;
  r[8] = (double)st.st_ctim.tv_nsec;
}

struct rb_job {
  napi_async_work work;
  napi_ref paths_ref, plan_ref, buffer_ref, results_ref, callback_ref;
  /* Start of each item's NUL-terminated path in the paths buffer. */
  const char **path_of;
  const double *plan;
  uint8_t *buffer;
  double *results;
  size_t count;
};

static void rb_run(struct rb_job *job) {
  for (size_t i = 0; i < job->count; i++) {
    const double *p = job->plan + i * RB_PLAN;
    double *r = job->results + i * RB_FIELDS;
    if (p[1] < 0) {
      memset(r, 0, RB_FIELDS * sizeof(double));
      r[0] = RB_SKIPPED;
      continue;
    }
    rb_one(job->path_of[i], job->buffer + (size_t)p[0], (size_t)p[1], r);
  }
}

static void rb_job_free(napi_env env, struct rb_job *job) {
  napi_ref refs[] = {job->paths_ref, job->plan_ref, job->buffer_ref, job->results_ref, job->callback_ref};
  for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
    if (refs[i] != NULL) napi_delete_reference(env, refs[i]);
  }
  if (job->work != NULL) napi_delete_async_work(env, job->work);
  free(job->path_of);
  free(job);
}

static bool rb_typed(napi_env env, napi_value v, napi_typedarray_type want, const char *name,
                     const char *expected, void **data, size_t *length) {
  bool is_typed = false;
  napi_typedarray_type type;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, v, &type, length, data, NULL, NULL) != napi_ok || type != want) {
    throw_arg_type(env, name, expected);
    return false;
  }
  return true;
}

/*
 * Checks the arguments so that the pool thread cannot write outside the buffer nor read past
 * the paths: every asked item's block-rounded data lies inside `buffer`, and `paths` holds a
 * NUL-terminated path per item.
 */
static bool rb_args(napi_env env, napi_value *argv, struct rb_job *job) {
  void *paths, *plan, *buffer, *results;
  size_t paths_len, plan_len, buffer_len, results_len;
  if (!rb_typed(env, argv[0], napi_uint8_array, "paths", "a Uint8Array", &paths, &paths_len) ||
      !rb_typed(env, argv[1], napi_float64_array, "plan", "a Float64Array", &plan, &plan_len) ||
      !rb_typed(env, argv[2], napi_uint8_array, "buffer", "a Uint8Array", &buffer, &buffer_len) ||
      !rb_typed(env, argv[3], napi_float64_array, "results", "a Float64Array", &results, &results_len)) {
    return false;
  }
  if (plan_len % RB_PLAN != 0) {
    throw_arg_range(env, "plan", "RB_PLAN values per item");
    return false;
  }
  size_t count = plan_len / RB_PLAN;
  if (results_len < count * RB_FIELDS) {
    throw_arg_range(env, "results", ">= RB_FIELDS values per item");
    return false;
  }
  job->plan = plan;
  job->buffer = buffer;
  job->results = results;
  job->count = count;
  job->path_of = calloc(count ? count : 1, sizeof(char *));
  if (job->path_of == NULL) {
    throw_errno(env, ENOMEM, "calloc", NULL);
    return false;
  }
  const char *s = paths, *end = s + paths_len;
  for (size_t i = 0; i < count; i++) {
    const char *nul = s < end ? memchr(s, 0, (size_t)(end - s)) : NULL;
    if (nul == NULL) {
      throw_arg_range(env, "paths", "a NUL-terminated path per item");
      return false;
    }
    job->path_of[i] = s;
    s = nul + 1;
    double at = job->plan[i * RB_PLAN], length = job->plan[i * RB_PLAN + 1];
    if (length < 0) continue;
    /* Ranges first: casting a double out of size_t's range is undefined. NaN fails them all. */
    if (!(at >= 0 && at <= (double)buffer_len && length >= 0 && length <= RB_MAX_LENGTH) ||
        at != (double)(size_t)at || length != (double)(size_t)length ||
        (size_t)at + ((size_t)length + RB_BLOCK - 1) / RB_BLOCK * RB_BLOCK > buffer_len) {
      throw_arg_range(env, "plan", "items of at most 512 KiB inside buffer");
      return false;
    }
  }
  return true;
}

static void rb_execute(napi_env env, void *data) {
  (void)env;
  rb_run(data);
}

static void rb_complete(napi_env env, napi_status status, void *data) {
  struct rb_job *job = data;
  napi_value cb, undefined, argv[1];
  if (napi_get_reference_value(env, job->callback_ref, &cb) == napi_ok &&
      napi_get_undefined(env, &undefined) == napi_ok) {
    if (status == napi_ok) {
      argv[0] = undefined;
    } else {
      napi_value msg;
      napi_create_string_utf8(env, "sysx: readFilesAsync was cancelled", NAPI_AUTO_LENGTH, &msg);
      napi_create_error(env, NULL, msg, &argv[0]);
    }
    napi_call_function(env, undefined, cb, 1, argv, NULL);
  }
  rb_job_free(env, job);
}

/*
 * readFilesAsync(paths, plan, buffer, results, callback(err)): every argument stays referenced,
 * and must not be touched by JavaScript, until the callback.
 */
napi_value ReadFilesAsync(napi_env env, napi_callback_info info) {
  napi_value argv[5], name;
  napi_valuetype type;
  struct rb_job *job = calloc(1, sizeof(*job));
  if (job == NULL) {
    throw_errno(env, ENOMEM, "calloc", NULL);
    return NULL;
  }
  if (!get_args(env, info, 5, argv) || !rb_args(env, argv, job)) {
    rb_job_free(env, job);
    return NULL;
  }
  if (napi_typeof(env, argv[4], &type) != napi_ok || type != napi_function) {
    rb_job_free(env, job);
    throw_arg_type(env, "callback", "a function");
    return NULL;
  }
  if (napi_create_reference(env, argv[0], 1, &job->paths_ref) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &job->plan_ref) != napi_ok ||
      napi_create_reference(env, argv[2], 1, &job->buffer_ref) != napi_ok ||
      napi_create_reference(env, argv[3], 1, &job->results_ref) != napi_ok ||
      napi_create_reference(env, argv[4], 1, &job->callback_ref) != napi_ok ||
      napi_create_string_utf8(env, "sysx.readFiles", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, rb_execute, rb_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    rb_job_free(env, job);
    throw_napi_failure(env, "readFilesAsync");
    return NULL;
  }
  return NULL;
}
