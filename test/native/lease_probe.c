/* Run inside a container by test/integration/escape.test.ts: tries to take
 * a lease on FILE (which the payload owns: a uid-0 payload owns the host's
 * root-owned files) through each ABI, and lets it go at once. A lease holds
 * every open() of the file elsewhere for up to 45 s (lease-break-time).
 * Prints one line per attempt, "<name> <result>": "ok", an errno name, or
 * "signal N".
 *
 *   gcc -std=gnu11 -O1 -Wall -Wextra -o lease_probe test/native/lease_probe.c
 *   lease_probe FILE
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "attempt.h"

static const char *file;

/* Opens the file read-only, asks `set` for a read lease, lets it go. */
static long try_lease(long (*set)(int fd, long arg)) {
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  long r = set(fd, F_RDLCK);
  if (r == 0)
    set(fd, F_UNLCK);
  close(fd);
  return r;
}

static long native_set(int fd, long arg) { return syscall(SYS_fcntl, fd, F_SETLEASE, arg) < 0 ? -errno : 0; }
static long native_lease(void) { return try_lease(native_set); }

#if defined(__x86_64__)
/* The i386 ABI from a 64-bit process: int 0x80; fcntl is 55 there,
 * fcntl64 221. */
static long i386_call(long nr, long a, long b, long c) {
  long r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
  return r;
}
static long i386_fcntl_set(int fd, long arg) { return i386_call(55, fd, F_SETLEASE, arg); }
static long i386_fcntl64_set(int fd, long arg) { return i386_call(221, fd, F_SETLEASE, arg); }
static long i386_lease(void) { return try_lease(i386_fcntl_set); }
static long i386_lease64(void) { return try_lease(i386_fcntl64_set); }
/* The x32 ABI: x86_64's numbers with bit 30 set. */
static long x32_set(int fd, long arg) { return syscall(72 | 0x40000000, fd, F_SETLEASE, arg) < 0 ? -errno : 0; }
static long x32_lease(void) { return try_lease(x32_set); }
#endif

static long getfl(void) {
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  long r = fcntl(fd, F_GETFL) < 0 ? -errno : 0;
  close(fd);
  return r;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc != 2) {
    fprintf(stderr, "usage: %s FILE\n", argv[0]);
    return 2;
  }
  file = argv[1];
  attempt("fcntl(F_SETLEASE)", native_lease);
#if defined(__x86_64__)
  attempt("i386 fcntl(F_SETLEASE)", i386_lease);
  attempt("i386 fcntl64(F_SETLEASE)", i386_lease64);
  attempt("x32 fcntl(F_SETLEASE)", x32_lease);
#endif
  attempt("fcntl(F_GETFL)", getfl); /* other fcntl calls pass */
  return 0;
}
