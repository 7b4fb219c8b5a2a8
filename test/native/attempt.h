/* For the probes run inside containers (userns_probe.c, netlink_fill.c):
 * attempt() runs one try in a child, since a try may succeed or kill the
 * process, and prints "<name> <result>": "ok", an errno name, or
 * "signal N". Header-only: each probe is one gcc call (fixtures/probes.ts). */
#ifndef IK_TEST_ATTEMPT_H
#define IK_TEST_ATTEMPT_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *err_name(int e) {
  switch (e) {
  case EPERM: return "EPERM";
  case ENOSYS: return "ENOSYS";
  case EINVAL: return "EINVAL";
  case EACCES: return "EACCES";
  case ENOENT: return "ENOENT";
  case EBUSY: return "EBUSY";
  case EROFS: return "EROFS";
  case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
  case EAFNOSUPPORT: return "EAFNOSUPPORT";
  case EOPNOTSUPP: return "EOPNOTSUPP";
  case EFAULT: return "EFAULT";
  case EBADF: return "EBADF";
  case ENOMEM: return "ENOMEM";
  case ENOBUFS: return "ENOBUFS";
  case ENOTSOCK: return "ENOTSOCK";
  case ENOKEY: return "ENOKEY";
  case ENODEV: return "ENODEV";
  default: return strerror(e);
  }
}

/* `fn` returns 0 or -errno. */
static void attempt(const char *name, long (*fn)(void)) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    long r = fn();
    _exit(r == 0 ? 0 : (int)(r < 0 ? -r : r) & 0xff);
  }
  int st;
  waitpid(pid, &st, 0);
  if (WIFSIGNALED(st))
    printf("%s signal %d\n", name, WTERMSIG(st));
  else if (WEXITSTATUS(st) == 0)
    printf("%s ok\n", name);
  else
    printf("%s %s\n", name, err_name(WEXITSTATUS(st)));
}

/* Whether this kernel runs i386 code from a 64-bit process (int 0x80).
 * Not where IA32 emulation is off, nor on a hypervisor that does not pass
 * int 0x80 on (seen: a VM where it raises SIGSEGV, outside any container
 * too): there the i386 ABI is no way around anything. Tried in a child. */
static inline int i386_abi_runs(void) {
#if defined(__x86_64__)
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) /* getpid */ : "memory");
    _exit(r == (long)getpid() ? 0 : 1);
  }
  int st;
  return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
#else
  return 0;
#endif
}

#endif
