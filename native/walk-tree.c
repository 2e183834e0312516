/*
 * walkTreeAsync: the backup's whole walk in one call. Threads list and stat directories
 * (walk_collect) and add each listing to one entry table in the layout src/stages/entry-table.ts
 * reads (rows of ROW doubles, name arena, links), so the main thread does no work per entry:
 * for a 100,000-file level 1, JavaScript's per-entry work (and the compiling and garbage
 * collection it caused) took as much CPU as the system calls, on a machine with two cores.
 *
 * What the JavaScript side decides per entry is done here the same way: exclusion by object
 * and by pattern, hard links (one row per object, a link per name), mount points (not
 * walked), and the entries it reports (stat errors, names too long, unreadable files,
 * 255-byte names, unreadable directories), which come back as a list of issues for it to
 * word. Rows whose fields need the format's range checks (device numbers, times outside 32
 * bits) come back with their raw walk rows, to be filled by the TypeScript fillRow.
 */
#include "sysx-common.h"
#include "sysx-methods.h"
#include "walk.h"
#include "table-layout.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Stat fields of a walk row (StatField). */
enum { S_DEV = 0, S_INO, S_MODE, S_NLINK, S_UID, S_GID, S_RDEV, S_SIZE, S_BLOCKS,
       S_ATIME_SEC, S_ATIME_NSEC, S_MTIME_SEC, S_MTIME_NSEC, S_CTIME_SEC, S_CTIME_NSEC };
#define W_READABLE STAT_FIELDS
#define W_BIRTH_SEC (STAT_FIELDS + 1)
#define W_BIRTH_NSEC (STAT_FIELDS + 2)
#define MAX_NAME_BYTES 255

/* What the JavaScript side reports (traverse.ts words them). */
enum { ISSUE_STAT = 1, ISSUE_NAME_TOO_LONG, ISSUE_UNREADABLE, ISSUE_NAME_255, ISSUE_UNREADABLE_DIR };
#define ISSUE_FIELDS 6 /* code, errno, parent id, name start (an unreadable directory: its dirs index), name length, raw */

/* Directory bits (dirs.bits): what the walk learnt on its descriptor, and mount points. */
enum { DIR_FLAGS_READ = 1, DIR_NO_XATTRS = 2, DIR_MOUNT = 4, DIR_RAW = 8 };

enum { SHAPE_ANY = 0, SHAPE_EXACT, SHAPE_PREFIX, SHAPE_SUFFIX, SHAPE_CONTAINS };
struct pattern { bool path; int shape; char *text; size_t len; };

/* A directory of the table: walked, or a mount point (not walked). */
struct dir { int32_t id; uint8_t bits; bool raw; char *path; size_t len; };

/* A growable array of `size`-byte elements. */
struct vec { void *data; size_t n, cap, size; };

static bool vec_reserve(struct vec *v, size_t more) {
  if (v->n + more <= v->cap) return true;
  size_t cap = v->cap ? v->cap : 64;
  while (cap < v->n + more) cap *= 2;
  void *g = realloc(v->data, cap * v->size);
  if (g == NULL) return false;
  v->data = g;
  v->cap = cap;
  return true;
}

static void *vec_push(struct vec *v) {
  if (!vec_reserve(v, 1)) return NULL;
  return (char *)v->data + v->size * v->n++;
}

struct tree_job {
  napi_async_work work;
  napi_ref callback_ref, progress_ref;
  /* Options. */
  char *root;
  bool birth, check_access;
  int threads;
  double root_dev;
  double root_row[ROW];
  size_t nexclude;
  double *exclude; /* dev, ino pairs */
  size_t nmounts;
  char **mounts;   /* sorted by bytes */
  size_t *mount_lens;
  size_t npatterns;
  struct pattern *patterns;
  bool path_patterns;
  size_t root_prefix; /* bytes of "root/" stripped for relative paths */
  int32_t *progress;  /* [entries so far, cancel, hold] (a JS Int32Array kept by progress_ref) */

  /* The table (under mu). */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  double *rows;
  size_t rows_bytes; /* mapped */
  size_t count, capacity;
  struct vec first_link;  /* int32 per row */
  struct vec link_child;  /* int32 */
  struct vec link_start;  /* int32 */
  struct vec link_length; /* int16 */
  struct vec names;       /* bytes */
  struct vec dirs;        /* struct dir */
  struct vec queue;       /* size_t: indexes into dirs */
  struct vec foreign;     /* int32 ids */
  struct vec slow;        /* int32 ids */
  struct vec slow_rows;   /* WALK_COLS doubles each */
  struct vec issues;      /* ISSUE_FIELDS int32 each */
  struct vec issue_names; /* bytes */
  /* Hard links: source inode -> id (open addressing; keys 0 = empty, so inode + 1). */
  uint64_t *link_keys;
  int32_t *link_ids;
  size_t link_cap, link_n;
  size_t excluded;
  int active;
  int fail; /* errno that stopped the walk (ENOMEM), or ECANCELED */
};

static inline bool in_u32(double v) { return v >= 0 && v <= 4294967295.0; }

/* The common row (fillRow's fast path); false when the TypeScript fillRow must fill it. */
static bool fill_row(double *o, const double *w) {
  double mode = w[S_MODE];
  unsigned type = (unsigned)mode & S_IFMT;
  if (type == S_IFCHR || type == S_IFBLK || !in_u32(w[S_ATIME_SEC]) || !in_u32(w[S_MTIME_SEC]) || !in_u32(w[S_CTIME_SEC])) return false;
  bool file = type == S_IFREG;
  double size = w[S_SIZE], blocks = w[S_BLOCKS];
  o[C_KIND] = file ? KIND_FILE : type == S_IFLNK ? KIND_SYMLINK : KIND_OTHER;
  o[C_INO] = 0;
  o[C_OFFSET] = 0;
  o[C_LENGTH] = file ? size : 0;
  o[C_BITS] = file && blocks * 512 < size ? BITS_SPARSE : 0;
  o[C_MODE] = (double)((unsigned)mode & 0xffff);
  o[C_NLINK] = w[S_NLINK] < 0x7fff ? w[S_NLINK] : 0x7fff;
  o[C_UID] = (double)(uint32_t)w[S_UID];
  o[C_GID] = (double)(uint32_t)w[S_GID];
  o[C_SIZE] = size;
  o[C_BLOCKS] = blocks;
  o[C_RDEV] = 0;
  o[C_ATIME] = w[S_ATIME_SEC]; o[C_ATIME_USEC] = (double)((int64_t)w[S_ATIME_NSEC] / 1000);
  o[C_MTIME] = w[S_MTIME_SEC]; o[C_MTIME_USEC] = (double)((int64_t)w[S_MTIME_NSEC] / 1000);
  o[C_CTIME] = w[S_CTIME_SEC]; o[C_CTIME_USEC] = (double)((int64_t)w[S_CTIME_NSEC] / 1000);
  o[C_MTIME_SEC] = w[S_MTIME_SEC]; o[C_MTIME_NSEC] = w[S_MTIME_NSEC];
  o[C_CTIME_SEC] = w[S_CTIME_SEC]; o[C_CTIME_NSEC] = w[S_CTIME_NSEC];
  o[C_ATIME_SEC] = w[S_ATIME_SEC]; o[C_ATIME_NSEC] = w[S_ATIME_NSEC];
  o[C_BIRTH_SEC] = w[W_BIRTH_SEC]; o[C_BIRTH_NSEC] = w[W_BIRTH_NSEC] >= 0 ? w[W_BIRTH_NSEC] : -1;
  return true;
}

static bool pattern_test(const struct pattern *p, const char *s, size_t n) {
  switch (p->shape) {
    case SHAPE_ANY: return true;
    case SHAPE_EXACT: return n == p->len && memcmp(s, p->text, n) == 0;
    case SHAPE_PREFIX: return n >= p->len && memcmp(s, p->text, p->len) == 0;
    case SHAPE_SUFFIX: return n >= p->len && memcmp(s + n - p->len, p->text, p->len) == 0;
    case SHAPE_CONTAINS: return memmem(s, n, p->text, p->len) != NULL;
  }
  return false;
}

/* Whether a pattern excludes `name` (in directory `d`); names and paths compare as bytes,
 * which for UTF-8 is what src/select/exclude.ts's string comparisons mean. */
static bool excluded_by_pattern(struct tree_job *job, const struct dir *d, const char *name, size_t len) {
  for (size_t i = 0; i < job->npatterns; i++) {
    const struct pattern *p = &job->patterns[i];
    if (!p->path && pattern_test(p, name, len)) return true;
  }
  if (!job->path_patterns) return false;
  /* The path relative to the root: the directory's part after "root/", then the name. */
  size_t dir_rel = d->len > job->root_prefix ? d->len - job->root_prefix : 0;
  size_t n = dir_rel ? dir_rel + 1 + len : len;
  char stack[1024];
  char *rel = n <= sizeof(stack) ? stack : malloc(n);
  if (rel == NULL) return false;
  if (dir_rel) {
    memcpy(rel, d->path + job->root_prefix, dir_rel);
    rel[dir_rel] = '/';
    memcpy(rel + dir_rel + 1, name, len);
  } else {
    memcpy(rel, name, len);
  }
  bool hit = false;
  for (size_t i = 0; i < job->npatterns && !hit; i++) {
    const struct pattern *p = &job->patterns[i];
    if (p->path && pattern_test(p, rel, n)) hit = true;
  }
  if (rel != stack) free(rel);
  return hit;
}

static bool excluded_object(const struct tree_job *job, double dev, double ino) {
  for (size_t i = 0; i < job->nexclude; i++) {
    if (job->exclude[2 * i] == dev && job->exclude[2 * i + 1] == ino) return true;
  }
  return false;
}

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn) {
  int c = memcmp(a, b, an < bn ? an : bn);
  return c ? c : (an < bn ? -1 : an > bn);
}

static bool is_mount(const struct tree_job *job, const char *path, size_t len) {
  size_t lo = 0, hi = job->nmounts;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = cmp_bytes(job->mounts[mid], job->mount_lens[mid], path, len);
    if (c == 0) return true;
    if (c < 0) lo = mid + 1; else hi = mid;
  }
  return false;
}

static size_t link_slot(const struct tree_job *job, uint64_t key) {
  uint64_t h = key * 0x9e3779b97f4a7c15ull;
  size_t i = (size_t)(h >> 17) & (job->link_cap - 1);
  while (job->link_keys[i] != 0 && job->link_keys[i] != key) i = (i + 1) & (job->link_cap - 1);
  return i;
}

/* The id already holding source inode `ino` (a name of an object with several links), or -1. */
static int32_t link_get(const struct tree_job *job, double ino) {
  if (job->link_n == 0) return -1;
  size_t i = link_slot(job, (uint64_t)ino + 1);
  return job->link_keys[i] ? job->link_ids[i] : -1;
}

static bool link_put(struct tree_job *job, double ino, int32_t id) {
  if ((job->link_n + 1) * 2 > job->link_cap) {
    size_t cap = job->link_cap ? job->link_cap * 2 : 1024;
    uint64_t *keys = calloc(cap, sizeof(uint64_t));
    int32_t *ids = malloc(cap * sizeof(int32_t));
    if (keys == NULL || ids == NULL) { free(keys); free(ids); return false; }
    uint64_t *old_keys = job->link_keys;
    int32_t *old_ids = job->link_ids;
    size_t old_cap = job->link_cap;
    job->link_keys = keys;
    job->link_ids = ids;
    job->link_cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
      if (old_keys[i] == 0) continue;
      size_t s = link_slot(job, old_keys[i]);
      keys[s] = old_keys[i];
      ids[s] = old_ids[i];
    }
    free(old_keys);
    free(old_ids);
  }
  size_t s = link_slot(job, (uint64_t)ino + 1);
  job->link_keys[s] = (uint64_t)ino + 1;
  job->link_ids[s] = id;
  job->link_n++;
  return true;
}

/* Room for one more row (the mapping grows in place or moves; nothing points into it). */
static bool reserve_row(struct tree_job *job) {
  if (job->count < job->capacity) return true;
  size_t cap = job->capacity * 2;
  size_t bytes = (cap * ROW * sizeof(double) + 4095) & ~(size_t)4095;
  void *g = mremap(job->rows, job->rows_bytes, bytes, MREMAP_MAYMOVE);
  if (g == MAP_FAILED) return false;
  job->rows = g;
  job->rows_bytes = bytes;
  job->capacity = cap;
  madvise(g, bytes, MADV_HUGEPAGE);
  return true;
}

static bool add_link(struct tree_job *job, int32_t child, const char *name, size_t len, bool raw) {
  if (!vec_reserve(&job->link_child, 1) || !vec_reserve(&job->link_start, 1) || !vec_reserve(&job->link_length, 1) ||
      !vec_reserve(&job->names, len)) return false;
  int32_t l = (int32_t)job->link_child.n;
  int32_t *first = (int32_t *)job->first_link.data + child;
  if (*first == -1) *first = l;
  ((int32_t *)job->link_child.data)[job->link_child.n++] = child;
  ((int32_t *)job->link_start.data)[job->link_start.n++] = (int32_t)job->names.n;
  ((int16_t *)job->link_length.data)[job->link_length.n++] = (int16_t)(raw ? -(int)len : (int)len);
  memcpy((char *)job->names.data + job->names.n, name, len);
  job->names.n += len;
  return true;
}

static bool add_issue(struct tree_job *job, int code, int err, int32_t parent, const char *name, size_t len, bool raw) {
  int32_t *o = vec_push(&job->issues);
  if (o == NULL || !vec_reserve(&job->issue_names, len)) return false;
  o[0] = code;
  o[1] = err;
  o[2] = parent;
  o[3] = (int32_t)job->issue_names.n;
  o[4] = (int32_t)len;
  o[5] = raw;
  if (len) memcpy((char *)job->issue_names.data + job->issue_names.n, name, len);
  job->issue_names.n += len;
  return true;
}

/* A directory below `parent` (its path is parent's + "/" + name); returns its index in dirs or -1. */
static long add_dir(struct tree_job *job, const struct dir *parent, int32_t id, const char *name, size_t len, bool raw, uint8_t bits) {
  size_t plen = parent->len + 1 + len;
  char *p = malloc(plen + 1);
  struct dir *d = p ? vec_push(&job->dirs) : NULL;
  if (d == NULL) { free(p); return -1; }
  memcpy(p, parent->path, parent->len);
  p[parent->len] = '/';
  memcpy(p + parent->len + 1, name, len);
  p[plen] = 0;
  *d = (struct dir){ .id = id, .bits = bits, .raw = parent->raw || raw, .path = p, .len = plen };
  return (long)(job->dirs.n - 1);
}

static double *row_of(struct tree_job *job, int32_t id) { return job->rows + (size_t)id * ROW; }

/* Adds the listing `w` of directory dirs[di] to the table (under mu); false: out of memory. */
static bool integrate(struct tree_job *job, size_t di, struct walk_out *w) {
  struct dir dir = ((struct dir *)job->dirs.data)[di];
  double *drow = row_of(job, dir.id);
  drow[X_CHILD_START] = (double)job->link_child.n;
  if (w->fail) {
    if (!add_issue(job, ISSUE_UNREADABLE_DIR, w->fail, dir.id, NULL, 0, false)) return false;
    /* No name: the name start holds the directory's index in dirs instead, for its path. */
    ((int32_t *)job->issues.data)[(job->issues.n - 1) * ISSUE_FIELDS + 3] = (int32_t)di;
    return true;
  }
  uint8_t bits = 0;
  if (w->flags >= 0) { drow[X_DUMP_FLAGS] = w->flags; bits |= DIR_FLAGS_READ; }
  if (w->xattr_bytes == 0) bits |= DIR_NO_XATTRS;
  ((struct dir *)job->dirs.data)[di].bits |= bits;
  size_t r = 0; /* next index in w->raw (ascending) */
  for (size_t k = 0; k < w->n; k++) {
    const char *name = w->names + w->starts[k];
    size_t len = strlen(name);
    bool raw = r < w->nraw && (size_t)w->raw[r] == k;
    if (raw) r++;
    if (job->npatterns && excluded_by_pattern(job, &dir, name, len)) { job->excluded++; continue; }
    if (w->errs[k] != 0) {
      if (!add_issue(job, ISSUE_STAT, w->errs[k], dir.id, name, len, raw)) return false;
      continue;
    }
    if (len > MAX_NAME_BYTES) {
      if (!add_issue(job, ISSUE_NAME_TOO_LONG, 0, dir.id, name, len, raw)) return false;
      continue;
    }
    const double *wr = w->rows + k * WALK_COLS;
    if (job->nexclude && excluded_object(job, wr[S_DEV], wr[S_INO])) continue;
    unsigned type = (unsigned)wr[S_MODE] & S_IFMT;
    bool is_dir = type == S_IFDIR;
    bool multi = !is_dir && wr[S_NLINK] > 1;
    if (multi) {
      int32_t known = link_get(job, wr[S_INO]);
      if (known >= 0) {
        if (!add_link(job, known, name, len, raw)) return false;
        continue;
      }
    }
    if (wr[W_READABLE] == 0) {
      if (!add_issue(job, ISSUE_UNREADABLE, 0, dir.id, name, len, raw)) return false;
      continue;
    }
    if (len == MAX_NAME_BYTES && !add_issue(job, ISSUE_NAME_255, 0, dir.id, name, len, raw)) return false;
    if (!reserve_row(job) || !vec_reserve(&job->first_link, 1)) return false;
    int32_t id = (int32_t)job->count++;
    ((int32_t *)job->first_link.data)[job->first_link.n++] = -1;
    double *o = row_of(job, id);
    drow = row_of(job, dir.id); /* the rows may have moved */
    if (!fill_row(o, wr)) {
      int32_t *s = vec_push(&job->slow);
      double *sr = s ? vec_push(&job->slow_rows) : NULL;
      if (sr == NULL) return false;
      *s = id;
      memcpy(sr, wr, WALK_COLS * sizeof(double));
    }
    o[X_SRC_INO] = wr[S_INO];
    o[X_PARENT] = dir.id;
    o[X_CHILD_START] = 0;
    o[X_CHILD_COUNT] = 0;
    o[X_DUMP_FLAGS] = 0;
    if (multi && !link_put(job, wr[S_INO], id)) return false;
    bool foreign = wr[S_DEV] != job->root_dev;
    if (foreign) {
      int32_t *f = vec_push(&job->foreign);
      if (f == NULL) return false;
      *f = id;
    }
    if (!add_link(job, id, name, len, raw)) return false;
    if (is_dir) {
      long at = add_dir(job, &dir, id, name, len, raw, 0);
      if (at < 0) return false;
      struct dir *sub = (struct dir *)job->dirs.data + at;
      if (foreign || (job->nmounts && !sub->raw && is_mount(job, sub->path, sub->len))) {
        sub->bits |= DIR_MOUNT;
      } else {
        size_t *q = vec_push(&job->queue);
        if (q == NULL) return false;
        *q = (size_t)at;
      }
    }
  }
  drow[X_CHILD_COUNT] = (double)job->link_child.n - drow[X_CHILD_START];
  return true;
}

/* progress[2] == 1 (a test's request): after the root's listing, wait until the caller clears
 * it, with the table lock held so nothing else is listed meanwhile. */
static void hold_after_root(struct tree_job *job) {
  if (__atomic_load_n(&job->progress[2], __ATOMIC_ACQUIRE) != 1) return;
  __atomic_store_n(&job->progress[0], (int32_t)job->count, __ATOMIC_RELAXED);
  __atomic_store_n(&job->progress[2], 2, __ATOMIC_RELEASE);
  struct timespec ms = { 0, 1000000 };
  while (__atomic_load_n(&job->progress[2], __ATOMIC_ACQUIRE) != 0 && __atomic_load_n(&job->progress[1], __ATOMIC_RELAXED) == 0) nanosleep(&ms, NULL);
}

static void *tree_worker(void *arg) {
  struct tree_job *job = arg;
  pthread_mutex_lock(&job->mu);
  for (;;) {
    while (job->queue.n == 0 && job->active > 0 && !job->fail) pthread_cond_wait(&job->cv, &job->mu);
    if (job->fail || job->queue.n == 0) break;
    size_t di = ((size_t *)job->queue.data)[--job->queue.n];
    struct dir d = ((struct dir *)job->dirs.data)[di];
    job->active++;
    pthread_mutex_unlock(&job->mu);
    struct walk_out w;
    walk_collect(d.path, job->birth, job->check_access, &w);
    pthread_mutex_lock(&job->mu);
    if (!job->fail && !integrate(job, di, &w)) job->fail = ENOMEM;
    if (di == 0) hold_after_root(job);
    job->active--;
    __atomic_store_n(&job->progress[0], (int32_t)(job->count > INT32_MAX ? INT32_MAX : job->count), __ATOMIC_RELAXED);
    if (!job->fail && __atomic_load_n(&job->progress[1], __ATOMIC_RELAXED) != 0) job->fail = ECANCELED;
    pthread_cond_broadcast(&job->cv);
    pthread_mutex_unlock(&job->mu);
    walk_out_free(&w);
    pthread_mutex_lock(&job->mu);
  }
  pthread_cond_broadcast(&job->cv);
  pthread_mutex_unlock(&job->mu);
  return NULL;
}

static void tree_execute(napi_env env, void *data) {
  (void)env;
  struct tree_job *job = data;
  pthread_t extra[15];
  int started = 0;
  for (int i = 1; i < job->threads && i <= 15; i++) {
    if (pthread_create(&extra[started], NULL, tree_worker, job) == 0) started++;
  }
  tree_worker(job);
  for (int i = 0; i < started; i++) pthread_join(extra[i], NULL);
}

static void free_external(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

static void unmap_external(napi_env env, void *data, void *hint) {
  (void)env;
  munmap(data, (size_t)(uintptr_t)hint);
}

/* A typed array of `elem`-byte elements taking over vec's memory. */
static bool wrap_vec(napi_env env, napi_typedarray_type type, size_t elem, struct vec *v, napi_value *out) {
  napi_value ab;
  if (v->data == NULL && (v->data = malloc(1)) == NULL) return false;
  if (napi_create_external_arraybuffer(env, v->data, v->n * v->size, free_external, NULL, &ab) != napi_ok) return false;
  v->data = NULL;
  return napi_create_typedarray(env, type, v->n * v->size / elem, ab, 0, out) == napi_ok;
}

static bool set(napi_env env, napi_value obj, const char *key, napi_value v) {
  return v != NULL && napi_set_named_property(env, obj, key, v) == napi_ok;
}

static napi_value number(napi_env env, double v) {
  napi_value out;
  return napi_create_double(env, v, &out) == napi_ok ? out : NULL;
}

/* The JS result (see src/native/sysx.ts WalkedTree). */
static napi_value tree_result(napi_env env, struct tree_job *job) {
  napi_value result, rows_v, first_v, child_v, start_v, length_v, names_v, foreign_v, slow_v, slow_rows_v, issues_v, issue_names_v;
  napi_value dir_ids_v, dir_bits_v, dir_paths_v, dir_errors_v, ab;
  size_t nd = job->dirs.n;
  struct dir *dirs = job->dirs.data;
  /* Directory ids and bits, and their paths (walked directories and mount points). */
  struct vec ids = { .size = sizeof(int32_t) }, bits = { .size = 1 };
  if (!vec_reserve(&ids, nd) || !vec_reserve(&bits, nd)) { free(ids.data); free(bits.data); return NULL; }
  for (size_t i = 0; i < nd; i++) {
    ((int32_t *)ids.data)[i] = dirs[i].id;
    ((uint8_t *)bits.data)[i] = dirs[i].bits | (dirs[i].raw ? DIR_RAW : 0);
  }
  ids.n = bits.n = nd;
  if (!wrap_vec(env, napi_int32_array, 4, &ids, &dir_ids_v) || !wrap_vec(env, napi_uint8_array, 1, &bits, &dir_bits_v)) { free(ids.data); free(bits.data); return NULL; }
  if (napi_create_array_with_length(env, nd, &dir_paths_v) != napi_ok) return NULL;
  for (size_t i = 0; i < nd; i++) {
    napi_value p;
    if (dirs[i].raw ? napi_create_buffer_copy(env, dirs[i].len, dirs[i].path, NULL, &p) != napi_ok
                    : napi_create_string_utf8(env, dirs[i].path, dirs[i].len, &p) != napi_ok) return NULL;
    if (napi_set_element(env, dir_paths_v, (uint32_t)i, p) != napi_ok) return NULL;
  }
  /* The errors of directories that could not be read, by issue index. */
  size_t ni = job->issues.n;
  int32_t *iss = job->issues.data;
  if (napi_create_array_with_length(env, ni, &dir_errors_v) != napi_ok) return NULL;
  for (size_t i = 0; i < ni; i++) {
    if (iss[i * ISSUE_FIELDS] != ISSUE_UNREADABLE_DIR) continue;
    const struct dir *d = &dirs[iss[i * ISSUE_FIELDS + 3]];
    napi_value e = errno_error(env, iss[i * ISSUE_FIELDS + 1], "scandir", d->path);
    if (e == NULL || napi_set_element(env, dir_errors_v, (uint32_t)i, e) != napi_ok) return NULL;
  }
  if (napi_create_external_arraybuffer(env, job->rows, job->count * ROW * sizeof(double), unmap_external, (void *)(uintptr_t)job->rows_bytes, &ab) != napi_ok) return NULL;
  job->rows = NULL;
  if (napi_create_typedarray(env, napi_float64_array, job->count * ROW, ab, 0, &rows_v) != napi_ok) return NULL;
  if (!wrap_vec(env, napi_int32_array, 4, &job->first_link, &first_v) ||
      !wrap_vec(env, napi_int32_array, 4, &job->link_child, &child_v) ||
      !wrap_vec(env, napi_int32_array, 4, &job->link_start, &start_v) ||
      !wrap_vec(env, napi_int16_array, 2, &job->link_length, &length_v) ||
      !wrap_vec(env, napi_int32_array, 4, &job->foreign, &foreign_v) ||
      !wrap_vec(env, napi_int32_array, 4, &job->slow, &slow_v) ||
      !wrap_vec(env, napi_float64_array, 8, &job->slow_rows, &slow_rows_v) ||
      !wrap_vec(env, napi_int32_array, 4, &job->issues, &issues_v)) return NULL;
  size_t used = job->names.n;
  if (job->names.data == NULL && (job->names.data = malloc(1)) == NULL) return NULL;
  if (napi_create_external_buffer(env, used, job->names.data, free_external, NULL, &names_v) != napi_ok) return NULL;
  job->names.data = NULL;
  if (napi_create_buffer_copy(env, job->issue_names.n, job->issue_names.n ? job->issue_names.data : "", NULL, &issue_names_v) != napi_ok) return NULL;
  napi_value hard_links;
  if (napi_get_boolean(env, job->link_n > 0, &hard_links) != napi_ok || napi_create_object(env, &result) != napi_ok) return NULL;
  bool ok = set(env, result, "count", number(env, (double)job->count)) &&
            set(env, result, "rows", rows_v) && set(env, result, "firstLink", first_v) &&
            set(env, result, "linkChild", child_v) && set(env, result, "linkStart", start_v) &&
            set(env, result, "linkLength", length_v) && set(env, result, "names", names_v) &&
            set(env, result, "dirIds", dir_ids_v) && set(env, result, "dirBits", dir_bits_v) &&
            set(env, result, "dirPaths", dir_paths_v) && set(env, result, "dirErrors", dir_errors_v) &&
            set(env, result, "foreign", foreign_v) && set(env, result, "slow", slow_v) &&
            set(env, result, "slowRows", slow_rows_v) && set(env, result, "issues", issues_v) &&
            set(env, result, "issueNames", issue_names_v) && set(env, result, "excluded", number(env, (double)job->excluded)) &&
            set(env, result, "hardLinks", hard_links);
  return ok ? result : NULL;
}

static void tree_job_free(napi_env env, struct tree_job *job) {
  struct dir *dirs = job->dirs.data;
  for (size_t i = 0; i < job->dirs.n; i++) free(dirs[i].path);
  free(job->dirs.data);
  if (job->rows) munmap(job->rows, job->rows_bytes);
  struct vec *vecs[] = { &job->first_link, &job->link_child, &job->link_start, &job->link_length, &job->names, &job->queue,
                         &job->foreign, &job->slow, &job->slow_rows, &job->issues, &job->issue_names };
  for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) free(vecs[i]->data);
  free(job->link_keys);
  free(job->link_ids);
  free(job->root);
  free(job->exclude);
  for (size_t i = 0; i < job->nmounts; i++) free(job->mounts[i]);
  free(job->mounts);
  free(job->mount_lens);
  for (size_t i = 0; i < job->npatterns; i++) free(job->patterns[i].text);
  free(job->patterns);
  if (job->callback_ref) napi_delete_reference(env, job->callback_ref);
  if (job->progress_ref) napi_delete_reference(env, job->progress_ref);
  if (job->work) napi_delete_async_work(env, job->work);
  pthread_mutex_destroy(&job->mu);
  pthread_cond_destroy(&job->cv);
  free(job);
}

static void tree_complete(napi_env env, napi_status status, void *data) {
  struct tree_job *job = data;
  napi_value cb, undefined, argv[2];
  if (napi_get_reference_value(env, job->callback_ref, &cb) == napi_ok && napi_get_undefined(env, &undefined) == napi_ok) {
    argv[0] = undefined;
    argv[1] = undefined;
    if (status != napi_ok || job->fail) {
      argv[0] = errno_error(env, status != napi_ok ? ECANCELED : job->fail, "walk", job->root);
    } else if ((argv[1] = tree_result(env, job)) == NULL) {
      bool pending = false;
      napi_value msg, ignored;
      napi_is_exception_pending(env, &pending);
      if (pending) napi_get_and_clear_last_exception(env, &ignored);
      napi_create_string_utf8(env, "sysx: walkTreeAsync result failed", NAPI_AUTO_LENGTH, &msg);
      napi_create_error(env, NULL, msg, &argv[0]);
      argv[1] = undefined;
    }
    napi_call_function(env, undefined, cb, 2, argv, NULL);
  }
  tree_job_free(env, job);
}

static bool get_prop(napi_env env, napi_value obj, const char *key, napi_value *out) {
  return napi_get_named_property(env, obj, key, out) == napi_ok;
}

static int cmp_mount(const void *a, const void *b, void *ctx) {
  (void)ctx;
  const char *const *x = a, *const *y = b;
  return strcmp(*x, *y);
}

/* Reads the options object into the job; false with an exception pending (or ENOMEM). */
static bool tree_options(napi_env env, napi_value o, struct tree_job *job) {
  napi_value v;
  void *data;
  size_t n;
  double threads;
  if (!get_prop(env, o, "root", &v) || (job->root = arg_string(env, v, "root")) == NULL) return false;
  if (!get_prop(env, o, "birth", &v) || napi_get_value_bool(env, v, &job->birth) != napi_ok ||
      !get_prop(env, o, "checkAccess", &v) || napi_get_value_bool(env, v, &job->check_access) != napi_ok) {
    throw_arg_type(env, "birth/checkAccess", "booleans");
    return false;
  }
  double capacity, prefix;
  if (!get_prop(env, o, "threads", &v) || napi_get_value_double(env, v, &threads) != napi_ok ||
      !get_prop(env, o, "rootDev", &v) || napi_get_value_double(env, v, &job->root_dev) != napi_ok ||
      !get_prop(env, o, "capacity", &v) || napi_get_value_double(env, v, &capacity) != napi_ok ||
      !get_prop(env, o, "rootPrefix", &v) || napi_get_value_double(env, v, &prefix) != napi_ok) {
    throw_arg_type(env, "threads/rootDev/capacity/rootPrefix", "numbers");
    return false;
  }
  job->root_prefix = prefix < 0 ? 0 : (size_t)prefix;
  job->threads = threads < 1 ? 1 : threads > 16 ? 16 : (int)threads;
  job->capacity = capacity < 1024 ? 1024 : (size_t)capacity;
  if (!get_prop(env, o, "rootRow", &v) || !arg_typed(env, v, napi_float64_array, "rootRow", &data, &n)) return false;
  if (n != ROW) {
    throw_arg_type(env, "rootRow", "a Float64Array of one table row");
    return false;
  }
  memcpy(job->root_row, data, sizeof(job->root_row));
  if (!get_prop(env, o, "exclude", &v) || !arg_typed(env, v, napi_float64_array, "exclude", &data, &n)) return false;
  if (n % 2) {
    throw_arg_type(env, "exclude", "a Float64Array of (dev, ino) pairs");
    return false;
  }
  job->nexclude = n / 2;
  job->exclude = malloc(n ? n * sizeof(double) : 1);
  if (job->exclude == NULL) return false;
  if (n) memcpy(job->exclude, data, n * sizeof(double));
  if (!get_prop(env, o, "progress", &v) || !arg_typed(env, v, napi_int32_array, "progress", &data, &n)) return false;
  if (n < 3 || napi_create_reference(env, v, 1, &job->progress_ref) != napi_ok) {
    throw_arg_type(env, "progress", "an Int32Array of 3");
    return false;
  }
  job->progress = data;
  uint32_t count;
  if (!get_prop(env, o, "mounts", &v) || napi_get_array_length(env, v, &count) != napi_ok) { throw_arg_type(env, "mounts", "an Array"); return false; }
  job->mounts = calloc(count ? count : 1, sizeof(char *));
  job->mount_lens = calloc(count ? count : 1, sizeof(size_t));
  if (job->mounts == NULL || job->mount_lens == NULL) return false;
  for (uint32_t i = 0; i < count; i++) {
    napi_value e;
    if (napi_get_element(env, v, i, &e) != napi_ok || (job->mounts[i] = arg_string(env, e, "mounts[i]")) == NULL) return false;
    job->nmounts++;
  }
  qsort_r(job->mounts, job->nmounts, sizeof(char *), cmp_mount, NULL);
  for (size_t i = 0; i < job->nmounts; i++) job->mount_lens[i] = strlen(job->mounts[i]);
  if (!get_prop(env, o, "patterns", &v) || napi_get_array_length(env, v, &count) != napi_ok) { throw_arg_type(env, "patterns", "an Array"); return false; }
  job->patterns = calloc(count ? count : 1, sizeof(struct pattern));
  if (job->patterns == NULL) return false;
  for (uint32_t i = 0; i < count; i++) {
    napi_value e, f;
    struct pattern *p = &job->patterns[i];
    double shape;
    if (napi_get_element(env, v, i, &e) != napi_ok || !get_prop(env, e, "path", &f) || napi_get_value_bool(env, f, &p->path) != napi_ok ||
        !get_prop(env, e, "shape", &f) || napi_get_value_double(env, f, &shape) != napi_ok || !get_prop(env, e, "text", &f)) {
      throw_arg_type(env, "patterns[i]", "{ path, shape, text }");
      return false;
    }
    if ((p->text = arg_string(env, f, "patterns[i].text")) == NULL) return false;
    p->len = strlen(p->text);
    p->shape = (int)shape;
    if (p->path) job->path_patterns = true;
    job->npatterns++;
  }
  return true;
}

/* The table's first row (the root, filled by the caller) and first directory. */
static bool tree_start(struct tree_job *job) {
  job->rows_bytes = (job->capacity * ROW * sizeof(double) + 4095) & ~(size_t)4095;
  job->rows = mmap(NULL, job->rows_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (job->rows == MAP_FAILED) { job->rows = NULL; return false; }
  /* On a virtual machine a 25 MB table's 4 KiB page faults cost more than filling it. */
  madvise(job->rows, job->rows_bytes, MADV_HUGEPAGE);
  memcpy(job->rows, job->root_row, sizeof(job->root_row));
  job->count = 1;
  int32_t *first = vec_push(&job->first_link);
  struct dir *root = first ? vec_push(&job->dirs) : NULL;
  size_t *q = root ? vec_push(&job->queue) : NULL;
  char *path = q ? strdup(job->root) : NULL;
  if (path == NULL) return false;
  *first = -1;
  /* "/" walks as "" so that children are "/name", not "//name". */
  size_t len = strcmp(path, "/") == 0 ? 0 : strlen(path);
  *root = (struct dir){ .id = 0, .bits = 0, .raw = false, .path = path, .len = len };
  *q = 0;
  return true;
}

/*
 * walkTreeAsync(options, callback(err, result)): see src/native/sysx.ts walkTreeAsync. Runs
 * on the libuv thread pool (one of its threads, plus threads - 1 of its own).
 */
napi_value WalkTreeAsync(napi_env env, napi_callback_info info) {
  napi_value argv[2], name;
  napi_valuetype type;
  if (!get_args(env, info, 2, argv)) return NULL;
  if (napi_typeof(env, argv[1], &type) != napi_ok || type != napi_function) {
    throw_arg_type(env, "callback", "a function");
    return NULL;
  }
  struct tree_job *job = calloc(1, sizeof(*job));
  if (job == NULL) { throw_errno(env, ENOMEM, "calloc", NULL); return NULL; }
  pthread_mutex_init(&job->mu, NULL);
  pthread_cond_init(&job->cv, NULL);
  job->first_link.size = job->link_child.size = job->link_start.size = job->foreign.size = job->slow.size = sizeof(int32_t);
  job->link_length.size = sizeof(int16_t);
  job->names.size = job->issue_names.size = 1;
  job->dirs.size = sizeof(struct dir);
  job->queue.size = sizeof(size_t);
  job->slow_rows.size = WALK_COLS * sizeof(double);
  job->issues.size = ISSUE_FIELDS * sizeof(int32_t);
  if (!tree_options(env, argv[0], job)) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) throw_errno(env, ENOMEM, "walkTreeAsync", NULL);
    tree_job_free(env, job);
    return NULL;
  }
  if (!tree_start(job)) {
    tree_job_free(env, job);
    throw_errno(env, ENOMEM, "walkTreeAsync", NULL);
    return NULL;
  }
  if (napi_create_reference(env, argv[1], 1, &job->callback_ref) != napi_ok ||
      napi_create_string_utf8(env, "sysx.walkTree", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, tree_execute, tree_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    tree_job_free(env, job);
    throw_napi_failure(env, "walkTreeAsync");
    return NULL;
  }
  return NULL;
}

/* tableLayout(): the column indexes this file writes, for the test that compares them with the TypeScript ones. */
napi_value TableLayout(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  const char *names[] = { "kind", "ino", "offset", "length", "bits", "mode", "nlink", "uid", "gid", "size", "blocks", "rdev",
    "atime", "atimeUsec", "mtime", "mtimeUsec", "ctime", "ctimeUsec", "mtimeSec", "mtimeNsec", "ctimeSec", "ctimeNsec",
    "atimeSec", "atimeNsec", "birthSec", "birthNsec", "srcIno", "parent", "childStart", "childCount", "dumpFlags", "ROW" };
  if (napi_create_object(env, &out) != napi_ok) return NULL;
  for (int i = 0; i <= ROW; i++) {
    if (!set(env, out, names[i], number(env, i))) return NULL;
  }
  return out;
}
