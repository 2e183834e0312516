/* The functions the addon exports to JavaScript (registered in sysx.c; src/native/sysx.ts types them). */
#ifndef SYSX_METHODS_H
#define SYSX_METHODS_H

#define NAPI_VERSION 8
#include <node_api.h>

/* Hidden: JavaScript reaches them through the module's exports, never by symbol name. */
#define SYSX_METHOD __attribute__((visibility("hidden")))

/* sparse-files.c */
SYSX_METHOD napi_value SeekData(napi_env env, napi_callback_info info);
SYSX_METHOD napi_value SeekHole(napi_env env, napi_callback_info info);
SYSX_METHOD napi_value DataExtents(napi_env env, napi_callback_info info);
/* xattrs.c */
SYSX_METHOD napi_value ListXattrs(napi_env env, napi_callback_info info);
SYSX_METHOD napi_value GetXattr(napi_env env, napi_callback_info info);
SYSX_METHOD napi_value SetXattr(napi_env env, napi_callback_info info);
SYSX_METHOD napi_value RemoveXattr(napi_env env, napi_callback_info info);
/* inode-flags.c */
SYSX_METHOD napi_value GetFlags(napi_env env, napi_callback_info info);
SYSX_METHOD napi_value SetFlags(napi_env env, napi_callback_info info);
/* nodes-and-times.c */
SYSX_METHOD napi_value Mknod(napi_env env, napi_callback_info info);
SYSX_METHOD napi_value LutimesNs(napi_env env, napi_callback_info info);
/* stat.c */
SYSX_METHOD napi_value StatxBirth(napi_env env, napi_callback_info info);
SYSX_METHOD napi_value LstatInto(napi_env env, napi_callback_info info);
SYSX_METHOD napi_value FstatInto(napi_env env, napi_callback_info info);
SYSX_METHOD napi_value LstatAt(napi_env env, napi_callback_info info);
/* walk.c */
SYSX_METHOD napi_value WalkDir(napi_env env, napi_callback_info info);
/* walk-tree.c */
SYSX_METHOD napi_value WalkTreeAsync(napi_env env, napi_callback_info info);
SYSX_METHOD napi_value TableLayout(napi_env env, napi_callback_info info);
/* table-scan.c */
SYSX_METHOD napi_value IdentityNumbers(napi_env env, napi_callback_info info);
SYSX_METHOD napi_value SelectChanged(napi_env env, napi_callback_info info);
SYSX_METHOD napi_value InodeMaps(napi_env env, napi_callback_info info);
/* huge-pages.c */
SYSX_METHOD napi_value AdviseHugePages(napi_env env, napi_callback_info info);
/* direnc.c */
SYSX_METHOD napi_value EncodeDirectory(napi_env env, napi_callback_info info);
SYSX_METHOD napi_value DirectoryRecords(napi_env env, napi_callback_info info);
/* copy.c */
SYSX_METHOD napi_value CopyFileRange(napi_env env, napi_callback_info info);
SYSX_METHOD napi_value SendfileAt(napi_env env, napi_callback_info info);
/* write-files.c */
SYSX_METHOD napi_value WriteFiles(napi_env env, napi_callback_info info);
SYSX_METHOD napi_value WriteFilesAsync(napi_env env, napi_callback_info info);
/* read-batch.c */
SYSX_METHOD napi_value ReadFileBatch(napi_env env, napi_callback_info info);

#endif
