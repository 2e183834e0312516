/* A TS_INODE header written from a table or item row (HeaderTemplate.write's work, in C). */
#ifndef SYSX_INODE_HEADER_H
#define SYSX_INODE_HEADER_H

#include <stdint.h>

#include "sysx-common.h"
#include "table-layout.h"

#define TP_BSIZE 1024
/* One tape header's worth of data (TP_NINDIR blocks): larger objects have several headers. */
#define TP_NINDIR 512

/* Item rows (src/workers/read-protocol.ts, COLS values per item) are the first columns of a
 * table row (table-layout.h); the header reads only those. */
#define COLS (C_BIRTH_NSEC + 1)

/*
 * The TS_INODE header of an object of `nblocks` data blocks, all on tape, at h: the template
 * `tpl` (a HeaderTemplate's, c_type set), the inode fields of `row`, with `size` and `flags`
 * given (a directory's size is its listing's, its flags read apart). The same bytes as
 * HeaderTemplate.write (src/format/header-template.ts); test/native/read-batch.test.ts compares.
 */
SYSX_PRIVATE void inode_header(uint8_t *h, const uint8_t *tpl, const double *row, double size, uint32_t flags, uint32_t nblocks);

#endif
