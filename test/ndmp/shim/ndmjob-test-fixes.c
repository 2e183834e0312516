/*
 * Test-only LD_PRELOAD shim for Amanda 3.5.1's ndmjob (Debian build), used together with
 * ../shared/tools/ndmjob-shim/gmalloc0.so for `ndmjob -o test-tape`.
 *
 * 1. ndmca_tt_basic_write_and_read: in that build the T-BWR phase compares the bytes it read back through a plain (signed)
 * char pointer with the unsigned pattern (i - 4) & 0xff, so every byte >= 0x80 "differs" and the
 * phase fails at #23 ("Failed compare") whatever the server returns; ndmjob then stops, and the
 * T-WRITE, T-READ and T-MTIO phases never run. The phase function is reached through the GOT,
 * so this file supplies it again: the same steps and expectations as NDMP.md section 9.1
 * (T-BWR), performed with ndmjob's own exported check helpers, with an unsigned compare.
 *
 * 2. ndmca_test_fill_data: the record pattern of T-WRITE/T-READ/T-MTIO is built from a struct
 *    {u16 fileno; u16 sequence; unsigned long recno} whose 4 padding bytes (on 64-bit) are never
 *    set, so records carry stack garbage and the read-back compare fails at random. Same layout,
 *    padding zeroed: every record is deterministic, and each byte is still compared.
 */
#include <stdio.h>

struct ndm_session;
typedef unsigned long u_long;

int ndmca_test_phase(struct ndm_session *, char *, char *);
int ndmca_test_tape_open(struct ndm_session *, int, char *, int);
int ndmca_test_tape_close(struct ndm_session *, int);
int ndmca_test_tape_mtio(struct ndm_session *, int, int, u_long, u_long *);
int ndmca_check_tape_mtio(struct ndm_session *, int, int, u_long, u_long);
int ndmca_tape_mtio(struct ndm_session *, int, u_long, u_long *);
int ndmca_test_tape_read(struct ndm_session *, int, char *, unsigned);
int ndmca_test_tape_read_2cnt(struct ndm_session *, int, char *, unsigned, unsigned);
int ndmca_test_tape_write(struct ndm_session *, int, char *, unsigned);
void ndmca_test_fail(struct ndm_session *, char *);

enum { NO_ERR = 0, EOF_ERR = 12, EOM_ERR = 13 };
enum { FSF = 0, BSF = 1, FSR = 2, BSR = 3, REW = 4, WEOF = 5 };
enum { READ_MODE = 0, RDWR_MODE = 1 };

void ndmca_test_fill_data(char *buf, int bufsize, int recno, int fileno) {
  struct { unsigned short fileno; unsigned short sequence; unsigned int pad; unsigned long recno; } x;
  unsigned short sequence = 0;
  char *dst = buf, *end = buf + bufsize;
  x.fileno = (unsigned short)fileno;
  x.pad = 0;
  x.recno = (unsigned long)recno;
  while (dst < end) {
    x.sequence = sequence++;
    const char *src = (const char *)&x;
    for (unsigned i = 0; i < sizeof x && dst < end; i++) *dst++ = src[i];
  }
}

#define TRY(x) do { int rc_ = (x); if (rc_) return rc_; } while (0)

int ndmca_tt_basic_write_and_read(struct ndm_session *sess) {
  static char buf[64 * 1024];
  ndmca_test_phase(sess, "T-BWR", "Tape Write and Read Basics");

  /* EOF and EOM around a single filemark at BOT (v4 rules). */
  TRY(ndmca_test_tape_open(sess, NO_ERR, 0, RDWR_MODE));
  TRY(ndmca_test_tape_mtio(sess, NO_ERR, REW, 1, 0));
  TRY(ndmca_check_tape_mtio(sess, NO_ERR, BSR, 100, 100));
  TRY(ndmca_check_tape_mtio(sess, NO_ERR, BSF, 100, 100));
  TRY(ndmca_test_tape_mtio(sess, NO_ERR, WEOF, 1, 0));
  TRY(ndmca_check_tape_mtio(sess, NO_ERR, BSF, 100, 99));
  TRY(ndmca_check_tape_mtio(sess, NO_ERR, FSF, 100, 99));
  TRY(ndmca_test_tape_read(sess, EOM_ERR, buf, sizeof buf));
  TRY(ndmca_test_tape_read(sess, EOM_ERR, buf, 1024));

  /* One record, no filemark: record spacing stops at BOT and at end of data. */
  TRY(ndmca_test_tape_mtio(sess, NO_ERR, REW, 1, 0));
  TRY(ndmca_test_tape_write(sess, NO_ERR, buf, 512));
  TRY(ndmca_check_tape_mtio(sess, NO_ERR, BSR, 100, 99));
  TRY(ndmca_check_tape_mtio(sess, NO_ERR, FSR, 100, 99));
  TRY(ndmca_check_tape_mtio(sess, NO_ERR, FSR, 100, 100));
  TRY(ndmca_check_tape_mtio(sess, NO_ERR, FSF, 100, 100));
  TRY(ndmca_test_tape_close(sess, NO_ERR));

  /* Label-style write, close, reopen, read back and compare; twice. */
  for (int pass = 0; pass < 2; pass++) {
    TRY(ndmca_test_tape_open(sess, NO_ERR, 0, RDWR_MODE));
    TRY(ndmca_test_tape_mtio(sess, NO_ERR, REW, 1, 0));
    for (int i = 0; i < 1024; i++) buf[i] = (char)((i - 4) & 0xff);
    TRY(ndmca_test_tape_write(sess, NO_ERR, buf, 1024));
    TRY(ndmca_tape_mtio(sess, WEOF, 1, 0));
    TRY(ndmca_test_tape_close(sess, NO_ERR));

    TRY(ndmca_test_tape_open(sess, NO_ERR, 0, RDWR_MODE));
    TRY(ndmca_test_tape_mtio(sess, NO_ERR, REW, 1, 0));
    for (int i = 0; i < 1024; i++) buf[i] = 0;
    if (pass == 1) TRY(ndmca_test_tape_read_2cnt(sess, NO_ERR, buf, sizeof buf, 1024));
    else TRY(ndmca_test_tape_read(sess, NO_ERR, buf, 1024));
    for (int i = 0; i < 1024; i++) {
      if ((unsigned char)buf[i] != (unsigned char)((i - 4) & 0xff)) {
        ndmca_test_fail(sess, "Failed compare");
        return -1;
      }
    }
    TRY(ndmca_test_tape_read(sess, EOF_ERR, buf, 1024));
    ndmca_tape_mtio(sess, FSF, 1, 0);
    TRY(ndmca_test_tape_read(sess, EOM_ERR, buf, 1024));
    TRY(ndmca_test_tape_close(sess, NO_ERR));
  }
  return 0;
}
