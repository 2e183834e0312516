/*
 * Huge pages for a large table (the walk's entry table): madvise(2), which Node does not
 * expose.
 */
#include "sysx-common.h"
#include "sysx-methods.h"

#include <stdint.h>
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
napi_value AdviseHugePages(napi_env env, napi_callback_info info) {
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
