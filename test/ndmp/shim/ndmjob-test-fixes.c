/*
 * Test-only LD_PRELOAD shim for Amanda 3.5.1's ndmjob (Debian build), used together with
 * ../shared/tools/ndmjob-shim/gmalloc0.so for `ndmjob -o test-tape`.
 *
 * Both fixes repair the client's own checks; neither changes a request or an expectation about
 * the server. Reviewed (session 4) against zmanda/amanda ndmp-src at a96e5587 (unchanged since
 * 2017, the source of the installed 1:3.5.1-11+deb12u2 amd64 build) and re-run without each fix
 * against this server: each is a client bug that fails against ANY server, so no server
 * behaviour can replace it.
 *
 * 1. ndmca_tt_basic_write_and_read (ndma_ctst_tape.c, T-BWR): line 460 `char buf[64*1024];`,
 *    line 461 `char *p;`, and line 573 `if (*p != ((i - 4) & 0xff))`. char is signed on amd64,
 *    so each byte read back >= 0x80 is a negative int and can never equal (i - 4) & 0xff, which
 *    is 128..255 for i = 132..259: whatever bytes the server returns, the phase reports
 *    "Failed compare" (seen: `T-BWR #23 -- Failed NDMP4_TAPE_READ/NDMP9_NO_ERR Failed compare`
 *    with only gmalloc0.so), and test-tape exit(1)s before T-WRITE, T-READ and T-MTIO. The
 *    function is reached through the GOT, so this file supplies it again: the same steps and
 *    expectations (NDMP.md section 9.1, T-BWR), performed with ndmjob's own exported check
 *    helpers, with an unsigned compare.
 *
 * 2. ndmca_test_fill_data (ndma_ctst_subr.c lines 538-564): the record pattern of T-WRITE
 *    (ndma_ctst_tape.c line 639), T-READ (line 708) and T-MTIO (line 914) is copied from a stack
 *    struct {unsigned short fileno; unsigned short sequence; unsigned long recno;} whose 4
 *    padding bytes (LP64) are never set. T-WRITE writes the garbage of its own stack; T-READ
 *    regenerates the expected record on a different stack and compares with bcmp. Seen with fix
 *    1 only, in 5 runs out of 5: `T-READ #3 -- Failed ... Failed compare recno=1; file #2`, the
 *    differing bytes being exactly offsets 4, 5, 20, 21, 36, 37... (the padding of each 16-byte
 *    unit): expected 0x00 0x00, written 0x33 0x56 in one run and 0xb9 0x55 in the next (the low
 *    bytes of an ASLR-randomised address). The server returned what was written, as it must;
 *    only the client's two copies of the pattern differ. Same layout here, padding zeroed:
 *    every record is deterministic, and each byte is still compared.
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

/* -DWITHOUT_FILL_DATA_FIX builds fix 1 alone (test/ndmp/tape.test.ts shows fix 2 is needed). */
#ifndef WITHOUT_FILL_DATA_FIX
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
#endif

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
