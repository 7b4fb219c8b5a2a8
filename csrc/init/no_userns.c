/* A seccomp filter that stops a process from making user namespaces.
 *
 * Why: in a user namespace of its own a process gets the capabilities to
 * mount the cgroup filesystem (unshare(CLONE_NEWUSER | CLONE_NEWNS |
 * CLONE_NEWCGROUP), then mount it: allowed to the owner of the cgroup
 * namespace). In each hierarchy the mount shows its cgroup namespace's
 * root: the container's group, or, where the container has none, the Node
 * process's group (on a host where Node runs in the root group, every
 * group of the host). As uid 0, which owns every cgroup file, it could
 * write them too: its own limits on v1, or the Node process's. v2's
 * nsdelegate guards only the limit files of a namespace's root. Docker's
 * default profile closes the same door the same way.
 *
 * What it does, on the native ABI and the compat one (i386 on x86_64, arm
 * on aarch64; x32 shares x86_64's numbers with bit 30 set):
 *   unshare(flags), clone(flags, ...) with CLONE_NEWUSER  -> EPERM
 *   clone3(...)                                           -> ENOSYS
 * clone3's flags live in memory a filter cannot read; ENOSYS makes libc
 * (glibc, musl, Rust's std, Go) fall back to clone, which it can.
 * Everything else is allowed; a process of another ABI gets ENOSYS.
 *
 * init installs it in itself as its last setup step (it makes no user
 * namespace and no clone3 call after that), as root, so without needing
 * no_new_privs; every process it starts inherits it, and a filter cannot
 * be removed. Loading it (the kernel checks and JIT-compiles it) costs
 * ~40 µs here, once per container.
 */
#define _GNU_SOURCE
#include "no_userns.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/prctl.h>

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#define NATIVE_UNSHARE 272
#define NATIVE_CLONE 56
#define COMPAT_ARCH AUDIT_ARCH_I386
#define COMPAT_UNSHARE 310
#define COMPAT_CLONE 120
#define NR_MASK (~0x40000000u) /* x32: the same numbers, bit 30 set */
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#define NATIVE_UNSHARE 97
#define NATIVE_CLONE 220
#define COMPAT_ARCH AUDIT_ARCH_ARM
#define COMPAT_UNSHARE 337
#define COMPAT_CLONE 120
#define NR_MASK (~0u)
#else
#error "no_userns.c: add this architecture's syscall numbers"
#endif
#define CLONE3 435 /* the same on every ABI */

#define LD_ARCH BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch))
#define LD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
/* The low 32 bits of the first argument (little-endian): the flags. */
#define LD_ARG0 BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]))
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
#define JEQ(k, t, f) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (t), (f))

/* A jump's offsets count the instructions it skips (target = next + offset);
 * the comments on the right give each instruction's index and targets. */
static const struct sock_filter filter[] = {
    LD_ARCH,                                                   /*  0 */
    JEQ(NATIVE_ARCH, 1, 0),                                    /*  1 -> 3, else 2 */
    JEQ(COMPAT_ARCH, 6, 14),                                   /*  2 -> 9, else 17 */
    LD_NR,                                                     /*  3 native ABI */
    BPF_STMT(BPF_ALU | BPF_AND | BPF_K, NR_MASK),              /*  4 */
    JEQ(CLONE3, 10, 0),                                        /*  5 -> 16 */
    JEQ(NATIVE_UNSHARE, 6, 0),                                 /*  6 -> 13 */
    JEQ(NATIVE_CLONE, 5, 0),                                   /*  7 -> 13, else 8 */
    RET(SECCOMP_RET_ALLOW),                                    /*  8 */
    LD_NR,                                                     /*  9 compat ABI */
    JEQ(CLONE3, 6, 0),                                         /* 10 -> 16 */
    JEQ(COMPAT_UNSHARE, 1, 0),                                 /* 11 -> 13 */
    JEQ(COMPAT_CLONE, 0, 2),                                   /* 12 -> 13, else 15 */
    LD_ARG0,                                                   /* 13 unshare or clone */
    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWUSER, 3, 0), /* 14 -> 18, else 15 */
    RET(SECCOMP_RET_ALLOW),                                    /* 15 */
    RET(SECCOMP_RET_ERRNO | ENOSYS),                           /* 16 clone3 */
    RET(SECCOMP_RET_ERRNO | ENOSYS),                           /* 17 another ABI */
    RET(SECCOMP_RET_ERRNO | EPERM),                            /* 18 CLONE_NEWUSER */
};

int ik_deny_user_namespaces(void) {
  struct sock_fprog prog = {(unsigned short)(sizeof filter / sizeof filter[0]), (struct sock_filter *)filter};
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}
