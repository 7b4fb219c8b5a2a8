/* Run inside containers by test/integration/escape.test.ts: kernel
 * interfaces init's filter refuses because what they hold is charged to no
 * group or shared beyond the container (csrc/init/no_userns.c): perf
 * events (ring buffers pinned outside the memory cgroup), AF_VSOCK (the
 * machine's ports, not the network namespace's), memfd_secret (splits
 * the host kernel's direct map) and MPTCP sockets (past the v1 socket
 * buffer budget further than TCP). Prints one line per attempt, "<name>
 * <result>": "ok", an errno name, or "signal N", on each ABI of the CPU.
 * Nothing is kept: a try that works closes what it made.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "attempt.h"

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

static long closed(long fd) {
  if (fd < 0)
    return -errno;
  close((int)fd);
  return 0;
}

/* This thread's task clock, user space only: what perf_event_paranoid 2
 * lets any user count. */
static long perf_own(void) {
  struct perf_event_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.size = sizeof attr;
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = PERF_COUNT_SW_TASK_CLOCK;
  attr.exclude_kernel = 1;
  attr.exclude_hv = 1;
  return closed(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
}
static long vsock_stream(void) { return closed(socket(AF_VSOCK, SOCK_STREAM, 0)); }
static long vsock_dgram(void) { return closed(socket(AF_VSOCK, SOCK_DGRAM, 0)); }
static long memfd_secret(void) { return closed(syscall(447, 0)); }
static long mptcp4(void) { return closed(socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP)); }
static long mptcp6(void) { return closed(socket(AF_INET6, SOCK_STREAM, IPPROTO_MPTCP)); }
/* The protocol's high half set, which the kernel ignores in an int. */
static long mptcp4_high(void) { return closed(syscall(SYS_socket, AF_INET, SOCK_STREAM, 0x100000000L | IPPROTO_MPTCP)); }

#if defined(__x86_64__)
/* The i386 ABI from a 64-bit process: int 0x80, no pointer (perf_event_open
 * with a NULL attr: EFAULT where the kernel answers). */
static long i386_call(long nr, long a, long b, long c) {
  long r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
  return r;
}
static long i386_fd(long r) {
  if (r >= 0) {
    close((int)r);
    return 0;
  }
  return r;
}
static long i386_perf(void) { return i386_fd(i386_call(336, 0, 0, -1)); }
static long i386_vsock(void) { return i386_fd(i386_call(359, AF_VSOCK, SOCK_STREAM, 0)); }
static long i386_memfd_secret(void) { return i386_fd(i386_call(447, 0, 0, 0)); }
static long i386_mptcp(void) { return i386_fd(i386_call(359, AF_INET, SOCK_STREAM, IPPROTO_MPTCP)); }
/* The x32 ABI: x86_64's numbers with bit 30 set. */
static long x32_perf(void) { return closed(syscall(298 | 0x40000000, NULL, 0, -1, -1, 0)); }
static long x32_vsock(void) { return closed(syscall(41 | 0x40000000, AF_VSOCK, SOCK_STREAM, 0)); }
static long x32_memfd_secret(void) { return closed(syscall(447 | 0x40000000, 0)); }
static long x32_mptcp(void) { return closed(syscall(41 | 0x40000000, AF_INET, SOCK_STREAM, IPPROTO_MPTCP)); }
#endif

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  attempt("perf_event_open", perf_own);
  attempt("socket(AF_VSOCK, SOCK_STREAM)", vsock_stream);
  attempt("socket(AF_VSOCK, SOCK_DGRAM)", vsock_dgram);
  attempt("memfd_secret", memfd_secret);
  attempt("socket(AF_INET, IPPROTO_MPTCP)", mptcp4);
  attempt("socket(AF_INET6, IPPROTO_MPTCP)", mptcp6);
  attempt("socket(AF_INET, IPPROTO_MPTCP with a high half)", mptcp4_high);
#if defined(__x86_64__)
  attempt("i386 perf_event_open", i386_perf);
  attempt("i386 socket(AF_VSOCK)", i386_vsock);
  attempt("i386 memfd_secret", i386_memfd_secret);
  attempt("i386 socket(AF_INET, IPPROTO_MPTCP)", i386_mptcp);
  attempt("x32 perf_event_open", x32_perf);
  attempt("x32 socket(AF_VSOCK)", x32_vsock);
  attempt("x32 memfd_secret", x32_memfd_secret);
  attempt("x32 socket(AF_INET, IPPROTO_MPTCP)", x32_mptcp);
#endif
  return 0;
}
