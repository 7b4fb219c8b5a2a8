/* A seccomp filter that stops a process from making user namespaces, and
 * from making netlink sockets of any protocol but NETLINK_ROUTE.
 *
 * Why user namespaces: in a user namespace of its own a process gets the
 * capabilities to mount the cgroup filesystem (unshare(CLONE_NEWUSER |
 * CLONE_NEWNS | CLONE_NEWCGROUP), then mount it: allowed to the owner of the
 * cgroup namespace). In each hierarchy the mount shows its cgroup
 * namespace's root: the container's group, or, where the container has
 * none, the Node process's group (on a host where Node runs in the root
 * group, every group of the host). As uid 0, which owns every cgroup file,
 * it could write them too: its own limits on v1, or the Node process's.
 * v2's nsdelegate guards only the limit files of a namespace's root.
 * Docker's default profile closes the same door the same way.
 *
 * Why netlink: netlink receive queues are charged to no memory cgroup.
 * NETLINK_USERSOCK lets any process send unicast to another process's
 * socket without a capability: a payload of a `memory: '64M'` container
 * held 2 GB in queues it never read (2 * net.core.rmem_max per socket).
 * NETLINK_ROUTE stays, as getifaddrs(), getaddrinfo()'s AI_ADDRCONFIG,
 * if_nameindex() and `ip` need it; there only the kernel writes to a
 * user's socket (its replies and events; sending to another socket needs
 * CAP_NET_ADMIN), which still queues uncharged, a reply per request: see
 * docs/cgroups.md. The other protocols would add kernel code to reach
 * (genetlink families, sock_diag, uevents, xfrm, netfilter) for no program
 * a sandbox runs. They fail with EPROTONOSUPPORT, what the kernel answers
 * for a netlink protocol it lacks, so programs take it as "not here"
 * (libaudit, systemd; `ss` reads /proc/net instead). socketpair() gets the
 * same test: the kernel would create, maybe load a module for, the
 * protocol before saying netlink has no pairs.
 *
 * What it does, on the native ABI and the compat one (i386 on x86_64, arm
 * on aarch64; x32 shares x86_64's numbers with bit 30 set):
 *   unshare(flags), clone(flags, ...) with CLONE_NEWUSER  -> EPERM
 *   clone3(...)                                           -> ENOSYS
 *   socket(), socketpair() of AF_NETLINK, protocol not 0  -> EPROTONOSUPPORT
 *   io_uring_setup(...)                                   -> ENOSYS
 *   socketcall(SYS_SOCKET or SYS_SOCKETPAIR, ...) (i386)  -> ENOSYS
 * clone3's flags live in memory a filter cannot read; ENOSYS makes libc
 * (glibc, musl, Rust's std, Go) fall back to clone, which it can.
 * socketcall's arguments live in memory too, so its SYS_SOCKET and
 * SYS_SOCKETPAIR are refused whatever they ask for; its other calls (bind,
 * sendmsg, ...) act on a socket that exists, and pass. The price: 32-bit
 * x86 programs whose libc makes sockets that way (glibc unless built for
 * Linux 4.3 or later, musl) make no socket at all; ones that call
 * socket() (359) do.
 * io_uring makes sockets (IORING_OP_SOCKET) and runs other calls without a
 * system call of their own, where no filter sees them; its users (liburing
 * callers, libuv) fall back to plain calls on ENOSYS. Docker's default
 * profile refuses io_uring too.
 * Everything else is allowed; a process of another ABI gets ENOSYS.
 *
 * init installs it in itself as its last setup step (it makes no user
 * namespace, no netlink socket and no clone3 or io_uring call after that),
 * as root, so without needing no_new_privs; every process it starts
 * inherits it, and a filter cannot be removed. Loading it (the kernel
 * checks and JIT-compiles it) costs ~40 µs here, once per container.
 */
#define _GNU_SOURCE
#include "no_userns.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/net.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#define NATIVE_UNSHARE 272
#define NATIVE_CLONE 56
#define NATIVE_SOCKET 41
#define NATIVE_SOCKETPAIR 53
#define COMPAT_ARCH AUDIT_ARCH_I386
#define COMPAT_UNSHARE 310
#define COMPAT_CLONE 120
#define COMPAT_SOCKET 359
#define COMPAT_SOCKETPAIR 360
#define NR_MASK (~0x40000000u) /* x32: the same numbers, bit 30 set */
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#define NATIVE_UNSHARE 97
#define NATIVE_CLONE 220
#define NATIVE_SOCKET 198
#define NATIVE_SOCKETPAIR 199
#define COMPAT_ARCH AUDIT_ARCH_ARM
#define COMPAT_UNSHARE 337
#define COMPAT_CLONE 120
#define COMPAT_SOCKET 281
#define COMPAT_SOCKETPAIR 288
#define NR_MASK (~0u)
#else
#error "no_userns.c: add this architecture's syscall numbers"
#endif
#define CLONE3 435         /* the same on every ABI */
#define IO_URING_SETUP 425 /* the same on every ABI */
/* i386's multiplexer; arm's EABI (the only one arm64 runs) has no 102, so
 * testing it there costs nothing: the kernel says ENOSYS anyway. */
#define COMPAT_SOCKETCALL 102

#define LD_ARCH BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch))
#define LD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
/* The low 32 bits of an argument (little-endian): the kernel reads the
 * flags, socket()'s family and protocol, and socketcall()'s call as ints. */
#define LD_ARG0 BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]))
#define LD_ARG2 BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2]))
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
#define JEQ(k, t, f) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (t), (f))

/* A jump's offsets count the instructions it skips (target = next + offset);
 * the comments on the right give each instruction's index and targets. */
static const struct sock_filter filter[] = {
    LD_ARCH,                                                   /*  0 */
    JEQ(NATIVE_ARCH, 1, 0),                                    /*  1 -> 3, else 2 */
    JEQ(COMPAT_ARCH, 8, 26),                                   /*  2 -> 11, else 29 */
    LD_NR,                                                     /*  3 native ABI */
    BPF_STMT(BPF_ALU | BPF_AND | BPF_K, NR_MASK),              /*  4 */
    JEQ(CLONE3, 23, 0),                                        /*  5 -> 29 */
    JEQ(IO_URING_SETUP, 22, 0),                                /*  6 -> 29 */
    JEQ(NATIVE_UNSHARE, 14, 0),                                /*  7 -> 22 */
    JEQ(NATIVE_CLONE, 13, 0),                                  /*  8 -> 22 */
    JEQ(NATIVE_SOCKET, 14, 0),                                 /*  9 -> 24 */
    JEQ(NATIVE_SOCKETPAIR, 13, 17),                            /* 10 -> 24, else 28 */
    LD_NR,                                                     /* 11 compat ABI */
    JEQ(CLONE3, 16, 0),                                        /* 12 -> 29 */
    JEQ(IO_URING_SETUP, 15, 0),                                /* 13 -> 29 */
    JEQ(COMPAT_UNSHARE, 7, 0),                                 /* 14 -> 22 */
    JEQ(COMPAT_CLONE, 6, 0),                                   /* 15 -> 22 */
    JEQ(COMPAT_SOCKET, 7, 0),                                  /* 16 -> 24 */
    JEQ(COMPAT_SOCKETPAIR, 6, 0),                              /* 17 -> 24 */
    JEQ(COMPAT_SOCKETCALL, 0, 9),                              /* 18 -> 19, else 28 */
    LD_ARG0,                                                   /* 19 socketcall's call */
    JEQ(SYS_SOCKET, 8, 0),                                     /* 20 -> 29 */
    JEQ(SYS_SOCKETPAIR, 7, 6),                                 /* 21 -> 29, else 28 */
    LD_ARG0,                                                   /* 22 unshare or clone: flags */
    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWUSER, 6, 4), /* 23 -> 30, else 28 */
    LD_ARG0,                                                   /* 24 socket or socketpair: family */
    JEQ(AF_NETLINK, 0, 2),                                     /* 25 -> 26, else 28 */
    LD_ARG2,                                                   /* 26 protocol */
    JEQ(NETLINK_ROUTE, 0, 3),                                  /* 27 -> 28, else 31 */
    RET(SECCOMP_RET_ALLOW),                                    /* 28 */
    RET(SECCOMP_RET_ERRNO | ENOSYS),                           /* 29 clone3, io_uring, socketcall, another ABI */
    RET(SECCOMP_RET_ERRNO | EPERM),                            /* 30 CLONE_NEWUSER */
    RET(SECCOMP_RET_ERRNO | EPROTONOSUPPORT),                  /* 31 netlink but NETLINK_ROUTE */
};

int ik_deny_user_namespaces(void) {
  struct sock_fprog prog = {(unsigned short)(sizeof filter / sizeof filter[0]), (struct sock_filter *)filter};
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}
