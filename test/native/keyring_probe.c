/* Run inside containers by test/integration/escape.test.ts: the
 * kernel's keyrings are not namespaced (every process of a uid shares that
 * uid's user keyring; a child starts with its parent's session keyring), so
 * they are a way from one container to another of the same uid, or to the
 * caller's keys. Prints one line per attempt, "<name> <result>": "ok", an
 * errno name, a key's contents, or "signal N". Raw system calls: no
 * libkeyutils needed.
 *
 *   keyring_probe abi              each keyring call on each ABI, asking nothing
 *                                  that would make a key
 *   keyring_probe put NAME         add the "user" key NAME (contents "secret-NAME")
 *                                  to this uid's user keyring
 *   keyring_probe get NAME         look for the "user" key NAME from the session
 *                                  keyring and the user keyring; print its contents
 *   keyring_probe drop NAME        invalidate the user keyring's key NAME
 *   keyring_probe hold NAME CMD..  (on the host) join a new session keyring, add
 *                                  the key NAME to it, then run CMD
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/keyctl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "attempt.h"

static long ret(long r) { return r < 0 ? -errno : 0; }

static long add_key(const char *name, int keyring) {
  char value[256];
  snprintf(value, sizeof value, "secret-%s", name);
  return syscall(SYS_add_key, "user", name, value, strlen(value), keyring);
}

/* The calls, asking nothing that would make a key: where the kernel
 * answers, keyctl says ok, add_key EINVAL (no such type) and request_key
 * ENOKEY. */
static long keyctl_id(void) { return ret(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0)); }
static long add_key_bad_type(void) { return ret(syscall(SYS_add_key, "", "probe", "x", 1, KEY_SPEC_SESSION_KEYRING)); }
static long request_key_none(void) { return ret(syscall(SYS_request_key, "user", "isolate-kit-probe-none", NULL, 0)); }

#if defined(__x86_64__)
/* The i386 ABI from a 64-bit process: int 0x80 (keyctl is 288 there,
 * request_key 287); no pointer, so none need lie below 4 GiB. */
static long i386_call(long nr, long a, long b, long c) {
  long r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
  return r;
}
static long i386_keyctl_id(void) {
  long r = i386_call(288, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0);
  return r < 0 ? r : 0;
}
/* NULL type: EFAULT where the kernel answers. */
static long i386_request_key(void) { return i386_call(287, 0, 0, 0); }
/* The x32 ABI: x86_64's numbers with bit 30 set. */
static long x32_keyctl_id(void) { return ret(syscall(250 | 0x40000000, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0)); }
#endif

static int get(const char *name) {
  long id = -1;
  int err = ENOKEY;
  for (int ring = KEY_SPEC_SESSION_KEYRING; id < 0 && ring >= KEY_SPEC_USER_KEYRING; ring--) {
    id = syscall(SYS_keyctl, KEYCTL_SEARCH, ring, "user", name, 0);
    if (id < 0 && errno != ENOKEY)
      err = errno;
  }
  if (id < 0) {
    printf("get %s\n", err_name(err));
    return 0;
  }
  char buf[256];
  long n = syscall(SYS_keyctl, KEYCTL_READ, id, buf, sizeof buf - 1);
  if (n < 0) {
    printf("get %s\n", err_name(errno));
    return 0;
  }
  buf[n < (long)sizeof buf - 1 ? n : (long)sizeof buf - 1] = 0;
  printf("get %s\n", buf);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 2 && strcmp(argv[1], "abi") == 0) {
    attempt("keyctl(KEYCTL_GET_KEYRING_ID)", keyctl_id);
    attempt("add_key", add_key_bad_type);
    attempt("request_key", request_key_none);
#if defined(__x86_64__)
    attempt("i386 keyctl(KEYCTL_GET_KEYRING_ID)", i386_keyctl_id);
    attempt("i386 request_key", i386_request_key);
    attempt("x32 keyctl(KEYCTL_GET_KEYRING_ID)", x32_keyctl_id);
#endif
    return 0;
  }
  /* A process may read, change or drop a key of its uid only where one of
   * its keyrings reaches it ("possesses" it). Outside, a process's session
   * keyring (its uid's default one) links the user keyring; in a container
   * with a session keyring of its own, the payload links it itself. */
  if (argc == 3 && strcmp(argv[1], "abi") != 0)
    syscall(SYS_keyctl, KEYCTL_LINK, KEY_SPEC_USER_KEYRING, KEY_SPEC_SESSION_KEYRING);
  if (argc == 3 && strcmp(argv[1], "put") == 0) {
    printf("put %s\n", add_key(argv[2], KEY_SPEC_USER_KEYRING) < 0 ? err_name(errno) : "ok");
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "get") == 0)
    return get(argv[2]);
  if (argc == 3 && strcmp(argv[1], "drop") == 0) {
    long id = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "user", argv[2], 0);
    if (id >= 0)
      id = syscall(SYS_keyctl, KEYCTL_INVALIDATE, id);
    printf("drop %s\n", id < 0 ? err_name(errno) : "ok");
    return 0;
  }
  if (argc >= 4 && strcmp(argv[1], "hold") == 0) {
    if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0 || add_key(argv[2], KEY_SPEC_SESSION_KEYRING) < 0) {
      fprintf(stderr, "keyring_probe hold: %s\n", strerror(errno));
      return 1;
    }
    execvp(argv[3], argv + 3);
    fprintf(stderr, "keyring_probe hold: %s: %s\n", argv[3], strerror(errno));
    return 127;
  }
  fprintf(stderr, "usage: %s abi | put NAME | get NAME | drop NAME | hold NAME CMD...\n", argv[0]);
  return 2;
}
