/*
 * sysx: the handful of Linux syscalls a dump/restore engine needs and that
 * Node's fs module does not expose (SEEK_DATA/SEEK_HOLE, l*xattr, inode
 * flags, mknod, statx birth time, nanosecond lutimes).
 *
 * Everything is stateless: the module keeps no globals, so each worker thread
 * that loads it gets an independent, equivalent instance. Calls are
 * synchronous except walkTreeAsync and writeFilesAsync, which run on the
 * libuv thread pool.
 * Errors are thrown shaped like Node's fs errors (code/errno/syscall/path) so
 * callers can handle both the same way.
 *
 * Linux + glibc >= 2.28 (statx wrapper) is assumed; the project is a Linux
 * dump engine and these calls have no portable equivalent anyway.
 *
 * Where each part lives (every file says why it exists):
 *   sysx-common.h/.c  errors shaped like Node's, argument checks (shared by all)
 *   sysx-methods.h    the functions registered below
 *   sparse-files.c    seekData, seekHole, dataExtents
 *   xattrs.c          listXattrs, getXattr, setXattr, removeXattr
 *   inode-flags.c     getFlags, setFlags
 *   nodes-and-times.c mknod, lutimesNs
 *   stat.c            statxBirth, lstatInto, fstatInto, lstatAt (stat-row.h: the row)
 *   walk.c            walkDir
 *   walk-tree.c       walkTreeAsync, tableLayout (table-layout.h: the entry table's row)
 *   table-scan.c      identityNumbers, selectChanged, inodeMaps
 *   huge-pages.c      adviseHugePages
 *   direnc.c          encodeDirectory, directoryRecords
 *   copy.c            copyFileRange, sendfileAt
 *   write-files.c     writeFiles, writeFilesAsync
 *   read-batch.c      readFileBatch
 *   inode-header.c    the TS_INODE header written in C (read-batch.c, direnc.c)
 */

#include "sysx-common.h"
#include "sysx-methods.h"

#define METHOD(name, fn) \
  { name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL }

/* NAPI_MODULE_INIT makes the addon context-aware: it is initialised once per
 * Node environment (main thread and each worker), never shared. */
NAPI_MODULE_INIT() {
  static const napi_property_descriptor methods[] = {
      METHOD("seekData", SeekData),
      METHOD("seekHole", SeekHole),
      METHOD("dataExtents", DataExtents),
      METHOD("listXattrs", ListXattrs),
      METHOD("getXattr", GetXattr),
      METHOD("setXattr", SetXattr),
      METHOD("removeXattr", RemoveXattr),
      METHOD("getFlags", GetFlags),
      METHOD("setFlags", SetFlags),
      METHOD("mknod", Mknod),
      METHOD("statxBirth", StatxBirth),
      METHOD("lutimesNs", LutimesNs),
      METHOD("lstatInto", LstatInto),
      METHOD("fstatInto", FstatInto),
      METHOD("lstatAt", LstatAt),
      METHOD("walkDir", WalkDir),
      METHOD("walkTreeAsync", WalkTreeAsync),
      METHOD("tableLayout", TableLayout),
      METHOD("identityNumbers", IdentityNumbers),
      METHOD("selectChanged", SelectChanged),
      METHOD("inodeMaps", InodeMaps),
      METHOD("adviseHugePages", AdviseHugePages),
      METHOD("encodeDirectory", EncodeDirectory),
      METHOD("directoryRecords", DirectoryRecords),
      METHOD("copyFileRange", CopyFileRange),
      METHOD("sendfileAt", SendfileAt),
      METHOD("writeFiles", WriteFiles),
      METHOD("writeFilesAsync", WriteFilesAsync),
      METHOD("readFileBatch", ReadFileBatch),
  };
  if (napi_define_properties(env, exports, sizeof(methods) / sizeof(methods[0]),
                             methods) != napi_ok) {
    throw_napi_failure(env, "napi_define_properties");
    return NULL;
  }
  return exports;
}
