/* The entry table's row layout, as native code writes and reads it (walk-tree.c, table-scan.c). */
#ifndef SYSX_TABLE_LAYOUT_H
#define SYSX_TABLE_LAYOUT_H

/* The entry table's columns (src/workers/read-protocol.ts Col, src/stages/entry-table.ts XCol);
 * tableLayout() (walk-tree.c) hands them to test/native/walk-tree.test.ts, which compares. */
enum {
  C_KIND = 0, C_INO, C_OFFSET, C_LENGTH, C_BITS, C_MODE, C_NLINK, C_UID, C_GID, C_SIZE, C_BLOCKS, C_RDEV,
  C_ATIME, C_ATIME_USEC, C_MTIME, C_MTIME_USEC, C_CTIME, C_CTIME_USEC,
  C_MTIME_SEC, C_MTIME_NSEC, C_CTIME_SEC, C_CTIME_NSEC, C_ATIME_SEC, C_ATIME_NSEC, C_BIRTH_SEC, C_BIRTH_NSEC,
  X_SRC_INO, X_PARENT, X_CHILD_START, X_CHILD_COUNT, X_DUMP_FLAGS,
  ROW
};
enum { KIND_FILE = 0, KIND_SYMLINK = 1, KIND_OTHER = 2 };
enum { BITS_SPARSE = 4 };
#endif
