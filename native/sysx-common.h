/*
 * What every source file of the sysx addon shares: the build settings it relies on, N-API, and
 * the error and argument helpers of sysx-common.c. Include it first: _GNU_SOURCE has to come
 * before any system header.
 */
#ifndef SYSX_COMMON_H
#define SYSX_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#ifndef _FILE_OFFSET_BITS
#define _FILE_OFFSET_BITS 64
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NAPI_VERSION 8
#include <node_api.h>

/* Tape offsets and sparse files routinely exceed 4 GiB. */
_Static_assert(sizeof(off_t) == 8, "sysx needs a 64-bit off_t");

/* Largest integer a JS number holds exactly (Number.MAX_SAFE_INTEGER). */
#define MAX_SAFE_INT 9007199254740991.0

/*
 * The helpers were static in one file; split across files they must not become exported symbols
 * of the addon, which the dynamic linker could resolve to a same-named symbol elsewhere.
 */
#define SYSX_PRIVATE __attribute__((visibility("hidden")))

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

SYSX_PRIVATE napi_value errno_error(napi_env env, int err, const char *syscall,
                                    const char *path);
SYSX_PRIVATE void throw_errno(napi_env env, int err, const char *syscall,
                              const char *path);
SYSX_PRIVATE void throw_napi_failure(napi_env env, const char *what);
SYSX_PRIVATE void throw_arg_type(napi_env env, const char *name, const char *expected);
SYSX_PRIVATE void throw_arg_range(napi_env env, const char *name, const char *expected);

#define NAPI_CALL(env, call)             \
  do {                                   \
    if ((call) != napi_ok) {             \
      throw_napi_failure((env), #call); \
      return NULL;                       \
    }                                    \
  } while (0)

/* ------------------------------------------------------------------------ */
/* Argument helpers: each returns false with a JS exception pending.          */
/* ------------------------------------------------------------------------ */

SYSX_PRIVATE bool get_args(napi_env env, napi_callback_info info, size_t want,
                           napi_value *argv);
SYSX_PRIVATE bool arg_integer(napi_env env, napi_value v, const char *name,
                              double min, double max, const char *range, int64_t *out);
SYSX_PRIVATE bool arg_fd(napi_env env, napi_value v, int *out);
SYSX_PRIVATE bool arg_offset(napi_env env, napi_value v, const char *name, int64_t *out);
SYSX_PRIVATE bool arg_uint32(napi_env env, napi_value v, const char *name, uint32_t *out);
/* A malloc'd copy of a string or Uint8Array argument, or NULL with an exception pending. */
SYSX_PRIVATE char *arg_string(napi_env env, napi_value v, const char *name);
SYSX_PRIVATE bool arg_nsec(napi_env env, napi_value v, const char *name, long *out);
SYSX_PRIVATE bool arg_sec(napi_env env, napi_value v, const char *name, time_t *out);
/* A typed array of `type`: its data and element count. */
SYSX_PRIVATE bool arg_typed(napi_env env, napi_value v, napi_typedarray_type type, const char *name, void **data, size_t *length);

#endif
