# Native helpers for syscalls Node's fs lacks (native/sysx.c registers them and says which
# file holds each), and the directory record encoder of the backup (native/direnc.c).
# Built by `npm install` (gypfile) or `npm run build:native`; Linux only.
{
  "targets": [
    {
      "target_name": "sysx",
      "sources": [
        "native/sysx.c",
        "native/sysx-common.c",
        "native/sparse-files.c",
        "native/xattrs.c",
        "native/inode-flags.c",
        "native/nodes-and-times.c",
        "native/stat.c",
        "native/walk.c",
        "native/walk-tree.c",
        "native/table-scan.c",
        "native/huge-pages.c",
        "native/direnc.c",
        "native/copy.c",
        "native/write-files.c",
        "native/inode-header.c",
        "native/read-batch.c",
      ],
      "defines": ["_GNU_SOURCE", "_FILE_OFFSET_BITS=64"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra"],
    }
  ]
}
