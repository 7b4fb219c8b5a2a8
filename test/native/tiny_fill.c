/* Run inside a container by test/integration/cgroup.test.ts: fills a file
 * (in the container's tmpfs /tmp) until a write fails, while its own
 * resident set stays a few pages: no libc, raw system calls. tmpfs pages
 * are charged to the group but mapped by no process, so the OOM killer's
 * choice among the group's processes comes down to everything but the
 * culprit: before init's children made themselves the preferred victims
 * (csrc/init/oom_guard.h), that was init, and the container ended.
 * Prints "filled" and exits 0 if it is still alive when a write fails.
 *
 *   gcc -std=gnu11 -O1 -static -nostdlib -fno-stack-protector -o tiny_fill test/native/tiny_fill.c
 *   tiny_fill FILE
 */
#include <fcntl.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
static long sys3(long n, long a, long b, long c) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}
static long sys4(long n, long a, long b, long c, long d) {
  long r;
  register long r10 __asm__("r10") = d;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
  return r;
}
/* The kernel enters with the stack pointer at argc, argv following. */
__asm__(".globl _start\n_start:\n mov %rsp, %rdi\n and $-16, %rsp\n call start_c\n hlt\n");
#elif defined(__aarch64__)
static long sys4(long n, long a, long b, long c, long d) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
  return x0;
}
static long sys3(long n, long a, long b, long c) { return sys4(n, a, b, c, 0); }
__asm__(".globl _start\n_start:\n mov x0, sp\n bl start_c\n");
#else
#error "tiny_fill: no raw system call stub for this architecture"
#endif

static char buf[4096];

__attribute__((used, noreturn)) void start_c(long *sp) {
  const char *path = sp[0] > 1 ? (const char *)sp[2] : "/tmp/fill";
  long fd = sys4(SYS_openat, AT_FDCWD, (long)path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd >= 0)
    while (sys3(SYS_write, fd, (long)buf, sizeof buf) > 0)
      ;
  sys3(SYS_write, 1, (long)"filled\n", 7);
  for (;;)
    sys3(SYS_exit_group, fd < 0 ? 2 : 0, 0, 0);
}
