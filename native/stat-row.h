/* A raw stat row (stat.c), which the walk's rows (walk.c) begin with. */
#ifndef SYSX_STAT_ROW_H
#define SYSX_STAT_ROW_H

#include <sys/stat.h>

/*
 * The walk stats every object and the workers stat every file again; Node's
 * Stats objects (bigint ones for exact nanoseconds) cost far more than the
 * syscall. lstatInto, fstatInto and lstatAt (stat.c) fill a caller-owned
 * Float64Array with the fields a dump needs:
 * [dev, ino, mode, nlink, uid, gid, rdev, size, blocks,
 *  atime_sec, atime_nsec, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec].
 */
#define STAT_FIELDS 15

/* Writes the STAT_FIELDS of `st` to o[0, STAT_FIELDS). */
SYSX_PRIVATE void fill_stat(double *o, const struct stat *st);

#endif
