/* Run inside a container by test/integration/escape.test.ts and cgroup.test.ts:
 * tries every way to make a user namespace (the door to mounting the cgroup
 * filesystem and writing the files a uid-0 payload owns) and prints one line
 * per attempt, "<name> <result>": "ok", an errno name, or "signal N".
 *
 *   gcc -std=gnu11 -O1 -Wall -Wextra -o userns_probe test/native/userns_probe.c
 *   userns_probe abi              each syscall and ABI on its own
 *   userns_probe cgroup V MNT     unshare user+mount+cgroup namespaces, mount the
 *                                 cgroup filesystem (V: 1 = memory hierarchy,
 *                                 2 = cgroup2) on MNT, raise the memory limit
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attempt.h"

static long ret(long r) { return r < 0 ? -errno : 0; }

static long unshare_user(void) { return ret(syscall(SYS_unshare, CLONE_NEWUSER)); }
static long unshare_none(void) { return ret(syscall(SYS_unshare, 0)); }

/* After a clone-like call: the child leaves at once, the parent reaps it. */
static long forked(long r) {
  if (r == 0)
    _exit(0);
  if (r > 0) {
    waitpid((pid_t)r, NULL, 0);
    return 0;
  }
  return -errno;
}

static long clone_user(void) { return forked(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)); }

struct clone3_args {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

static long clone3_user(void) {
  struct clone3_args a;
  memset(&a, 0, sizeof a);
  a.flags = CLONE_NEWUSER;
  a.exit_signal = SIGCHLD;
  return forked(syscall(435, &a, sizeof a));
}

#if defined(__x86_64__)
/* The i386 ABI from a 64-bit process: int 0x80, unshare is 310 there. */
static long unshare_user_i386(void) {
  long r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(310L), "b"((long)CLONE_NEWUSER) : "memory");
  return r;
}
/* The x32 ABI: x86_64's numbers with bit 30 set. */
static long unshare_user_x32(void) { return ret(syscall(272 | 0x40000000, CLONE_NEWUSER)); }
#endif

static int cgroup_escape(const char *version, const char *mnt) {
  if (syscall(SYS_unshare, CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWCGROUP) < 0) {
    printf("unshare %s\n", err_name(errno));
    return 0;
  }
  printf("unshare ok\n");
  int v1 = strcmp(version, "1") == 0;
  if (mount("none", mnt, v1 ? "cgroup" : "cgroup2", 0, v1 ? "memory" : NULL) < 0) {
    printf("mount %s\n", err_name(errno));
    return 0;
  }
  printf("mount ok\n");
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", mnt, v1 ? "memory.limit_in_bytes" : "memory.max");
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    printf("write %s\n", err_name(errno));
    return 0;
  }
  int bad = fputs("1073741824", f) < 0;
  bad |= fclose(f) != 0;
  printf("write %s\n", bad ? err_name(errno) : "ok");
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 2 && strcmp(argv[1], "abi") == 0) {
    attempt("unshare(CLONE_NEWUSER)", unshare_user);
    attempt("clone(CLONE_NEWUSER)", clone_user);
    attempt("clone3(CLONE_NEWUSER)", clone3_user);
#if defined(__x86_64__)
    attempt("i386 unshare(CLONE_NEWUSER)", unshare_user_i386);
    attempt("x32 unshare(CLONE_NEWUSER)", unshare_user_x32);
#endif
    attempt("unshare(0)", unshare_none);
    return 0;
  }
  if (argc >= 4 && strcmp(argv[1], "cgroup") == 0)
    return cgroup_escape(argv[2], argv[3]);
  fprintf(stderr, "usage: %s abi | cgroup 1|2 MOUNTPOINT\n", argv[0]);
  return 2;
}
