/* A seccomp filter that stops a process from making user namespaces, from
 * using the kernel's keyrings, from taking file leases, from perf events,
 * vsock and MPTCP sockets and secret memory, and from making
 * netlink sockets of any protocol but NETLINK_ROUTE; the
 * NETLINK_ROUTE sockets it does make are counted and kept at the default
 * receive buffer by a supervisor in init (netlink_guard.c).
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
 * CAP_NET_ADMIN), which still queues uncharged, a reply per request, up to
 * the socket's receive buffer (2 * rmem_max once raised) plus one reply
 * (an error echoes its request: up to the send buffer). So socket() of
 * NETLINK_ROUTE and setsockopt(SOL_SOCKET, a buffer size) go to init
 * (SECCOMP_RET_USER_NOTIF),
 * which makes at most IK_NETLINK_SOCKETS_MAX such sockets at once and
 * leaves their buffers at the default: together a few megabytes
 * uncharged, not gigabytes (netlink_guard.c). The other protocols would
 * add kernel code to reach (genetlink families, sock_diag, uevents, xfrm,
 * netfilter) for no program
 * a sandbox runs. They fail with EPROTONOSUPPORT, what the kernel answers
 * for a netlink protocol it lacks, so programs take it as "not here"
 * (libaudit, systemd; `ss` reads /proc/net instead). socketpair() gets the
 * same test: the kernel would create, maybe load a module for, the
 * protocol before saying netlink has no pairs.
 *
 * Why keyrings: the kernel's keyrings are not namespaced. Every process of
 * a uid shares that uid's user keyring, and a process starts with its
 * parent's session keyring. Containers running as the same uid (all
 * `nobody` by default) could leave keys there for each other: a channel
 * between sandboxes that share nothing else, and a way for one to read
 * what another stored (a review, 2026-11-29: a key one container added to
 * `@u` was read by the next). A uid-0 payload reached the host root's
 * user keyring the same way, and any payload its caller's session
 * keyring, whose "possessor" rights it then held. Keys are counted per
 * uid too (`kernel.keys.maxkeys`): one container could use up another's.
 * add_key(), request_key() and keyctl() fail with ENOSYS, what a kernel
 * built without keys answers (keyutils, Kerberos and systemd take it as
 * "no keyrings here"). Docker's default profile refuses them too. And init
 * gives every container an empty session keyring (IK_OP_SESSION_KEYRING),
 * for the ways to a process's keyrings that are not these calls.
 *
 * Why leases: fcntl(F_SETLEASE) needs only to own the file, and a uid-0
 * payload owns every root-owned file of the host's root, which a container
 * sees read-only (a payload running as a host user's uid, that user's).
 * A write lease makes every open() of the file elsewhere wait for the
 * holder, up to /proc/sys/fs/lease-break-time (45 s), and taken again at
 * once it holds them for as long as the container runs (a review,
 * 2026-11-29: each `cat` of such a host file on the host took 45 s); every
 * break also tells the holder that another process opened the file.
 * F_SETLEASE fails with EACCES, what the kernel answers a process that
 * does not own the file; only file servers (Samba, NFS) take leases.
 *
 * Why perf_event_open: the kernel lets any user profile its own threads
 * (perf_event_paranoid 2, the default), and each event's ring buffer,
 * once mapped, pins kernel pages charged to no memory cgroup, up to the
 * process's RLIMIT_MEMLOCK: a review (2026-11-29) had 200 processes of a
 * `memory: '64M'` container pin 1.2 GB. It is a large attack surface too;
 * Docker's default profile refuses it. EACCES is what a kernel whose
 * perf_event_paranoid forbids it answers (`perf` says so).
 *
 * Why AF_VSOCK: vsock addresses are the machine's, not the network
 * namespace's (Linux 6.18 has none for vsock): in a VM a container could
 * bind a port of the VM's CID, so that the host's own service could not,
 * and what the hypervisor reaches on that port is the container (the same
 * review). EAFNOSUPPORT, as a kernel without vsock answers. Docker's
 * default profile refuses the family too.
 *
 * Why IPPROTO_MPTCP: an MPTCP connection is a socket of its own on top of
 * its TCP subflow, and on cgroup v1 the kernel lets each go past the
 * group's socket buffer budget by a first segment (memory.kmem.tcp.max, see
 * docs/cgroups.md): the seventeenth review (2026-11-30) had unread loopback
 * connections under `memory: '64M'` take 361 MB of the host's memory, where
 * TCP took 131 MB, none of it in the run's memory figures. EPROTONOSUPPORT,
 * what a kernel built without MPTCP answers; its users (Go's net package,
 * curl --mptcp, mptcpize) fall back to TCP then.
 *
 * Why memfd_secret: the kernel takes a secret page out of its direct map,
 * splitting that map's huge pages for good, which slows the whole host's
 * kernel (the same review: five 64 MiB runs and the host's 4 KiB part of
 * the direct map had grown by 200 MB, after they ended too). ENOSYS, as
 * where secretmem is not enabled.
 *
 * What it does, on the native ABI and the compat one (i386 on x86_64, arm
 * on aarch64; x32 shares x86_64's numbers with bit 30 set):
 *   unshare(flags), clone(flags, ...) with CLONE_NEWUSER  -> EPERM
 *   clone3(...)                                           -> ENOSYS
 *   socket(), socketpair() of AF_NETLINK, protocol not 0  -> EPROTONOSUPPORT
 *   socket(), socketpair() of AF_NETLINK, NETLINK_ROUTE   -> init (or allowed)
 *   setsockopt(SOL_SOCKET, SO_{RCV,SND}BUF[FORCE]) (x32's
 *              own setsockopt too)                        -> init (or allowed)
 *   io_uring_setup(...), memfd_secret(...)                -> ENOSYS
 *   perf_event_open(...)                                  -> EACCES
 *   socket(), socketpair() of AF_VSOCK                    -> EAFNOSUPPORT
 *   socket(), socketpair() of AF_INET(6), IPPROTO_MPTCP   -> EPROTONOSUPPORT
 *   add_key(), request_key(), keyctl()                    -> ENOSYS
 *   fcntl(fd, F_SETLEASE, ...) (i386's fcntl64 too)       -> EACCES
 *   mq_notify(mqd, sigevent) but mq_notify(mqd, NULL)     -> ENOSYS
 *   socketcall(SYS_SOCKET, SYS_SOCKETPAIR or
 *              SYS_SETSOCKOPT, ...) (i386)                -> ENOSYS
 * clone3's flags live in memory a filter cannot read; ENOSYS makes libc
 * (glibc, musl, Rust's std, Go) fall back to clone, which it can.
 * socketcall's arguments live in memory too, so its SYS_SOCKET and
 * SYS_SOCKETPAIR are refused whatever they ask for, and SYS_SETSOCKOPT, which
 * would raise a netlink socket's buffer where init cannot see; its other
 * calls (bind, sendmsg, ...) pass. The price: 32-bit x86 programs whose
 * libc makes sockets that way (glibc unless built for Linux 4.3 or later,
 * musl) make no socket at all; ones that call socket() (359) do.
 * io_uring makes sockets (IORING_OP_SOCKET) and runs other calls without a
 * system call of their own, where no filter sees them; its users (liburing
 * callers, libuv) fall back to plain calls on ENOSYS. Docker's default
 * profile refuses io_uring too.
 * mq_notify() with SIGEV_THREAD takes a reference to a netlink socket
 * (the sigevent's sigev_signo), not to its file: the socket and its queue
 * outlive its last close, and so init's count (a review, 2026-11-29: 256
 * full sockets in one container, counted as none; and on Linux 6.18, a
 * queue whose registrant never closes it, its fd table shared, leaves the
 * socket for good, ~52 MB of kernel memory per container never freed).
 * The sigevent lives in memory the caller can change after any check, so
 * every registration is refused (ENOSYS, as where POSIX message queues
 * are not built in); removing one (NULL) passes.
 * Everything else is allowed; a process of another ABI gets ENOSYS.
 *
 * init installs it in itself as its last setup step (it makes no user
 * namespace, no socket, no setsockopt, no key call, no lease and no clone3 or io_uring call after
 * that: a call of its own sent to itself would never be answered), as
 * root, so without needing no_new_privs; every process it starts inherits
 * it, and a filter cannot be removed. Where nobody can answer (no network
 * namespace of the container's own, where the count would be the host's;
 * a kernel before 5.9, without SECCOMP_IOCTL_NOTIF_ADDFD; a seccomp
 * supervisor of Node's own, as the kernel allows one listener per chain),
 * the same filter is installed with "allow" where it says "init". Loading it (the kernel
 * checks and JIT-compiles it) costs ~40 µs here, once per container.
 */
#define _GNU_SOURCE
#include "no_userns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/net.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "netlink_guard.h"
#include "syscall_nrs.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

#define LD_ARCH BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch))
#define LD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
/* The low 32 bits of an argument (little-endian): the kernel reads the
 * flags, socket()'s family and protocol, setsockopt()'s level and name and
 * socketcall()'s call as ints. */
#define LD_ARG(n) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[n]))
/* The high 32 bits, which the kernel ignores in an int: init's own
 * socket() and setsockopt() carry a secret there (below). */
#define LD_ARG_HIGH(n) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[n]) + 4)
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
#define JEQ(k, t, f) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (t), (f))

/* init answers a NETLINK_ROUTE socket() by making the socket itself, and
 * setsockopt() of a buffer by making the call itself (netlink_guard.c);
 * the filter, which is init's too, must let those calls through rather
 * than send them to init. It does so for a call whose family and protocol
 * (socket) or level and name (setsockopt) carry, in their high halves,
 * which the kernel ignores in an int, a 64-bit secret init drew for this
 * container (instructions 55-62). A payload cannot read it: init is not
 * dumpable, and reading a filter back takes CAP_SYS_ADMIN. A guess that
 * misses is just another call to init. Compat calls have zeros there, and
 * the secret is never 0.
 *
 * A jump's offsets count the instructions it skips (target = next + offset);
 * the comments on the right give each instruction's index and targets. */
static const struct sock_filter filter[] = {
    LD_ARCH,                                                     /*  0 */
    JEQ(NATIVE_ARCH, 0, 18),                                     /*  1 -> 2, else 20 */
    LD_NR,                                                       /*  2 native ABI */
    BPF_STMT(BPF_ALU | BPF_AND | BPF_K, NR_MASK),                /*  3 */
    JEQ(CLONE3, 66, 0),                                          /*  4 -> 71 */
    JEQ(IO_URING_SETUP, 65, 0),                                  /*  5 -> 71 */
    JEQ(MEMFD_SECRET, 64, 0),                                    /*  6 -> 71 */
    JEQ(NATIVE_ADD_KEY, 63, 0),                                  /*  7 -> 71 */
    JEQ(NATIVE_REQUEST_KEY, 62, 0),                              /*  8 -> 71 */
    JEQ(NATIVE_KEYCTL, 61, 0),                                   /*  9 -> 71 */
    JEQ(NATIVE_PERF_EVENT_OPEN, 62, 0),                          /* 10 -> 73 */
    JEQ(NATIVE_FCNTL, 30, 0),                                    /* 11 -> 42 */
    JEQ(NATIVE_UNSHARE, 31, 0),                                  /* 12 -> 44 */
    JEQ(NATIVE_CLONE, 30, 0),                                    /* 13 -> 44 */
    JEQ(NATIVE_SOCKET, 35, 0),                                   /* 14 -> 50 */
    JEQ(NATIVE_SOCKETPAIR, 34, 0),                               /* 15 -> 50 */
    JEQ(NATIVE_MQ_NOTIFY, 29, 0),                                /* 16 -> 46 */
    JEQ(X32_MQ_NOTIFY, 28, 0),                                   /* 17 -> 46 */
    JEQ(NATIVE_SETSOCKOPT, 40, 0),                               /* 18 -> 59 */
    JEQ(X32_SETSOCKOPT, 39, 50),                                 /* 19 -> 59, else 70 */
    JEQ(COMPAT_ARCH, 0, 50),                                     /* 20 -> 21, else 71 */
    LD_NR,                                                       /* 21 compat ABI */
    JEQ(CLONE3, 48, 0),                                          /* 22 -> 71 */
    JEQ(IO_URING_SETUP, 47, 0),                                  /* 23 -> 71 */
    JEQ(MEMFD_SECRET, 46, 0),                                    /* 24 -> 71 */
    JEQ(COMPAT_ADD_KEY, 45, 0),                                  /* 25 -> 71 */
    JEQ(COMPAT_REQUEST_KEY, 44, 0),                              /* 26 -> 71 */
    JEQ(COMPAT_KEYCTL, 43, 0),                                   /* 27 -> 71 */
    JEQ(COMPAT_PERF_EVENT_OPEN, 44, 0),                          /* 28 -> 73 */
    JEQ(COMPAT_FCNTL, 12, 0),                                    /* 29 -> 42 */
    JEQ(COMPAT_FCNTL64, 11, 0),                                  /* 30 -> 42 */
    JEQ(COMPAT_UNSHARE, 12, 0),                                  /* 31 -> 44 */
    JEQ(COMPAT_CLONE, 11, 0),                                    /* 32 -> 44 */
    JEQ(COMPAT_SOCKET, 16, 0),                                   /* 33 -> 50 */
    JEQ(COMPAT_SOCKETPAIR, 15, 0),                               /* 34 -> 50 */
    JEQ(COMPAT_MQ_NOTIFY, 10, 0),                                /* 35 -> 46 */
    JEQ(COMPAT_SETSOCKOPT, 22, 0),                               /* 36 -> 59 */
    JEQ(COMPAT_SOCKETCALL, 0, 32),                               /* 37 -> 38, else 70 */
    LD_ARG(0),                                                   /* 38 socketcall's call */
    JEQ(SYS_SOCKET, 31, 0),                                      /* 39 -> 71 */
    JEQ(SYS_SOCKETPAIR, 30, 0),                                  /* 40 -> 71 */
    JEQ(SYS_SETSOCKOPT, 29, 28),                                 /* 41 -> 71, else 70 */
    LD_ARG(1),                                                   /* 42 fcntl: cmd */
    JEQ(F_SETLEASE, 29, 26),                                     /* 43 -> 73, else 70 */
    LD_ARG(0),                                                   /* 44 unshare or clone: flags */
    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWUSER, 26, 24), /* 45 -> 72, else 70 */
    LD_ARG(1),                                                   /* 46 mq_notify: the sigevent pointer */
    JEQ(0, 0, 23),                                               /* 47 -> 48, else 71 */
    LD_ARG_HIGH(1),                                              /* 48 */
    JEQ(0, 20, 21),                                              /* 49 -> 70, else 71 (NULL: unregister) */
    LD_ARG(0),                                                   /* 50 socket or socketpair: family */
    JEQ(AF_VSOCK, 23, 0),                                        /* 51 -> 75 */
    JEQ(AF_NETLINK, 0, 24),                                      /* 52 -> 53, else 77 */
    LD_ARG(2),                                                   /* 53 protocol */
    JEQ(NETLINK_ROUTE, 0, 19),                                   /* 54 -> 55, else 74 */
    LD_ARG_HIGH(0),                                              /* 55 family's high half */
    JEQ(0 /* secret 0 */, 0, 19),                                /* 56 -> 57, else 76 */
    LD_ARG_HIGH(2),                                              /* 57 protocol's high half */
    JEQ(0 /* secret 1 */, 11, 17),                               /* 58 -> 70, else 76 (init's own) */
    LD_ARG_HIGH(1),                                              /* 59 setsockopt: level's high half */
    JEQ(0 /* secret 0 */, 0, 2),                                 /* 60 -> 61, else 63 */
    LD_ARG_HIGH(2),                                              /* 61 name's high half */
    JEQ(0 /* secret 1 */, 7, 0),                                 /* 62 -> 70, else 63 (init's own) */
    LD_ARG(1),                                                   /* 63 level */
    JEQ(SOL_SOCKET, 0, 5),                                       /* 64 -> 65, else 70 */
    LD_ARG(2),                                                   /* 65 name */
    JEQ(SO_RCVBUF, 9, 0),                                        /* 66 -> 76 */
    JEQ(SO_RCVBUFFORCE, 8, 0),                                   /* 67 -> 76 */
    JEQ(SO_SNDBUF, 7, 0),                                        /* 68 -> 76 */
    JEQ(SO_SNDBUFFORCE, 6, 0),                                   /* 69 -> 76, else 70 */
    RET(SECCOMP_RET_ALLOW),                                      /* 70 */
    RET(SECCOMP_RET_ERRNO | ENOSYS),                             /* 71 clone3, io_uring, memfd_secret, keyrings, socketcall, mq_notify, another ABI */
    RET(SECCOMP_RET_ERRNO | EPERM),                              /* 72 CLONE_NEWUSER */
    RET(SECCOMP_RET_ERRNO | EACCES),                             /* 73 F_SETLEASE, perf_event_open */
    RET(SECCOMP_RET_ERRNO | EPROTONOSUPPORT),                    /* 74 netlink but NETLINK_ROUTE */
    RET(SECCOMP_RET_ERRNO | EAFNOSUPPORT),                       /* 75 AF_VSOCK */
    RET(SECCOMP_RET_USER_NOTIF),                                 /* 76 to init's netlink guard */
    /* Past the returns, so that no jump above had to change: only 52's. */
    JEQ(AF_INET, 1, 0),                                          /* 77 -> 79, else 78 */
    JEQ(AF_INET6, 0, 3),                                         /* 78 -> 79, else 82 */
    LD_ARG(2),                                                   /* 79 protocol */
    JEQ(IPPROTO_MPTCP, 0, 1),                                    /* 80 -> 81, else 82 */
    RET(SECCOMP_RET_ERRNO | EPROTONOSUPPORT),                    /* 81 MPTCP */
    RET(SECCOMP_RET_ALLOW),                                      /* 82 */
};
#define N_INSNS (sizeof filter / sizeof filter[0])
/* The one return that sends a call to init (made "allow" where nobody answers). */
#define TO_INIT 76
_Static_assert(N_INSNS == 83, "the jumps' comments count 83 instructions");
/* Where the secret goes: socket()'s (56, 58) and setsockopt()'s (60, 62). */
static const unsigned secret_at[2][2] = {{56, 58}, {60, 62}};

int ik_deny_user_namespaces(int *listener, int refuse_netlink) {
  struct sock_filter insns[N_INSNS];
  memcpy(insns, filter, sizeof filter);
  struct sock_fprog prog = {(unsigned short)N_INSNS, insns};
  *listener = -1;
  if (ik_netlink_guard_ready(refuse_netlink)) {
    for (int call = 0; call < 2; call++)
      for (int half = 0; half < 2; half++)
        insns[secret_at[call][half]].k = ik_netlink_guard_secret[half];
    int fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    if (fd >= 0) {
      *listener = fd;
      return 0;
    }
    /* EBUSY: a filter above ours has a listener already (Node itself runs
     * under a seccomp supervisor); EINVAL: a kernel before 5.0. */
  }
  /* Nobody to answer: what would go to init is allowed. */
  insns[TO_INIT] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}
