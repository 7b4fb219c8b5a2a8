/* init's answers to the calls its seccomp filter (no_userns.c) sends it, in
 * a container with a network namespace of its own.
 *
 * Why: the kernel charges what netlink sockets queue to no memory cgroup.
 * NETLINK_ROUTE stays allowed (getifaddrs, getaddrinfo's AI_ADDRCONFIG,
 * `ip`), and it answers every request: replies a payload never reads stay
 * queued, up to the socket's receive buffer. With SO_RCVBUF raised to
 * 2 * net.core.rmem_max (no capability needed) and thousands of sockets, a
 * `memory: '64M'` container held 2 GB. So:
 *   socket(AF_NETLINK, *, NETLINK_ROUTE): allowed while the container's
 *     network namespace holds fewer than IK_NETLINK_SOCKETS_MAX netlink
 *     sockets, else ENOBUFS (glibc's getaddrinfo then assumes both address
 *     families, as on any failure). The count is the kernel's: the
 *     "NETLINK" line of /proc/net/protocols, per network namespace, which
 *     counts a socket from its creation (unbound ones too) to its close.
 *     Calls answered together can each pass the test before any of their
 *     sockets exists: at most one per thread waiting, bounded by `pids`.
 *   setsockopt(SOL_SOCKET, SO_RCVBUF) on a netlink socket: "done", and
 *     nothing changes: the buffer stays at net.core.rmem_default (208 KiB
 *     unless the host raised it); SO_RCVBUFFORCE there: EPERM, as without
 *     CAP_NET_ADMIN. On any other socket SO_RCVBUF is done here, on init's
 *     own copy of the target's socket (pidfd_getfd), so that what was
 *     checked is what is changed: had init let the call go on, a thread
 *     swapping the fd for a netlink socket meanwhile would get the big
 *     buffer. SO_RCVBUFFORCE on another socket goes on as called (the
 *     kernel checks the caller's CAP_NET_ADMIN, which init must not lend).
 * Together: at most about 16 * (208 + 64) KiB uncharged per container.
 *
 * Each answer costs the caller a round trip to init (measured: socket()
 * and close() 60 µs instead of 6, setsockopt() 23 µs instead of 1);
 * programs make such calls rarely. init answers between its other work
 * (main.c's loop); a call waits while init is busy. What init cannot find
 * out (the target died, or the kernel refuses to show init its fd) is
 * answered "done, nothing changed" for a buffer and ENOBUFS for a socket:
 * never more than the rules allow.
 */
#define _GNU_SOURCE
#include "netlink_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <unistd.h>

#include "syscall_nrs.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* the same on every ABI */
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL /* Linux 6.9: a pidfd of one thread */
#endif

static int protocols_fd = -1;
uint32_t ik_netlink_guard_secret[2];
/* The kernel's sizes of a notification and a response, which may be larger
 * than this header's structs (it zero-fills what we do not know). */
static struct seccomp_notif_sizes sizes;

int ik_netlink_guard_ready(void) {
  /* pidfd_getfd(-1) says EBADF where it exists (5.6, after 5.5's
   * SECCOMP_USER_NOTIF_FLAG_CONTINUE), ENOSYS where not. */
  if (syscall(SYS_pidfd_getfd, -1, 0, 0) >= 0 || errno != EBADF)
    return 0;
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0 || sizes.seccomp_notif > 512 ||
      sizes.seccomp_notif_resp > 512)
    return 0;
  if (getrandom(ik_netlink_guard_secret, sizeof ik_netlink_guard_secret, GRND_NONBLOCK) != sizeof ik_netlink_guard_secret ||
      ik_netlink_guard_secret[0] == 0 || ik_netlink_guard_secret[1] == 0)
    return 0;
  /* /proc/net is the reader's network namespace: init's is the container's. */
  if (protocols_fd < 0)
    protocols_fd = open("/proc/net/protocols", O_RDONLY | O_CLOEXEC);
  return protocols_fd >= 0;
}

/* Netlink sockets in init's network namespace now, or -1. */
static long netlink_sockets(void) {
  static char buf[16384];
  size_t len = 0;
  ssize_t n;
  while (len < sizeof buf - 1 && (n = pread(protocols_fd, buf + len, sizeof buf - 1 - len, (off_t)len)) > 0)
    len += (size_t)n;
  buf[len] = 0;
  const char *line = strstr(buf, "\nNETLINK ");
  long size, count;
  if (line == NULL || sscanf(line + 1, "NETLINK %ld %ld", &size, &count) != 2)
    return -1;
  return count;
}

/* A pidfd of thread `tid` (in init's pid namespace), for its fd table: the
 * thread's own where the kernel has PIDFD_THREAD (6.9), else its leader's
 * (a thread made without CLONE_FILES then sees its leader's fds: the answer
 * is about the socket init looked at, never another). */
static int pidfd_of(pid_t tid) {
  int fd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
  if (fd >= 0 || errno != EINVAL)
    return fd;
  fd = (int)syscall(SYS_pidfd_open, tid, 0); /* before 6.9: a leader only */
  if (fd >= 0 || errno != EINVAL)
    return fd;
  char path[64], status[4096];
  snprintf(path, sizeof path, "/proc/%d/status", (int)tid);
  int sfd = open(path, O_RDONLY | O_CLOEXEC);
  if (sfd < 0)
    return -1;
  ssize_t n = read(sfd, status, sizeof status - 1);
  close(sfd);
  const char *t = n > 0 ? (status[n] = 0, strstr(status, "\nTgid:")) : NULL;
  return t == NULL ? -1 : (int)syscall(SYS_pidfd_open, (pid_t)atoi(t + 6), 0);
}

/* init's own copy of the target's fd `fd`, or -errno. The notification
 * must still be pending once the pidfd exists, or its pid may be another
 * process's already. */
static int target_fd(int listener, const struct seccomp_notif *req, int fd) {
  int pidfd = pidfd_of((pid_t)req->pid);
  if (pidfd < 0)
    return -ESRCH;
  __u64 id = req->id;
  int copy = -ESRCH;
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0 && (copy = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0)) < 0)
    copy = -errno;
  close(pidfd);
  return copy;
}

/* setsockopt(fd, SOL_SOCKET, name, optval, optlen) of the target: what the
 * kernel would answer, except that a netlink socket's buffer stays. */
static void answer_sockopt(int listener, const struct seccomp_notif *req, struct seccomp_notif_resp *resp) {
  int name = (int)req->data.args[2];
  int s = target_fd(listener, req, (int)req->data.args[0]);
  if (s == -EBADF) {
    resp->error = -EBADF;
    return;
  }
  if (s < 0)
    return; /* not seen: "done", nothing changed */
  int domain = 0, value;
  socklen_t len = sizeof domain;
  struct iovec local = {&value, sizeof value};
  struct iovec remote = {(void *)(uintptr_t)req->data.args[3], sizeof value};
  if (getsockopt(s, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0) {
    resp->error = -errno; /* ENOTSOCK */
  } else if (name == SO_RCVBUFFORCE) {
    /* The kernel checks the caller's CAP_NET_ADMIN, which init must not
     * lend: it goes on as called, but never on a netlink socket. */
    if (domain == AF_NETLINK)
      resp->error = -EPERM;
    else
      resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  } else if ((unsigned)req->data.args[4] < sizeof value) {
    resp->error = -EINVAL;
  } else if (process_vm_readv((pid_t)req->pid, &local, 1, &remote, 1, 0) != (ssize_t)sizeof value) {
    resp->error = -EFAULT;
  } else if (domain == AF_NETLINK) {
    /* "done", nothing changed */
  } else if (syscall(SYS_setsockopt, s, SOL_SOCKET | (long)ik_netlink_guard_secret[0] << 32,
                     SO_RCVBUF | (long)ik_netlink_guard_secret[1] << 32, &value, sizeof value) < 0) {
    resp->error = -errno; /* the secret: see no_userns.c */
  }
  close(s);
}

void ik_netlink_guard_answer(int listener) {
  union {
    struct seccomp_notif n;
    char bytes[512];
  } req;
  union {
    struct seccomp_notif_resp r;
    char bytes[512];
  } resp;
  memset(&req, 0, sizes.seccomp_notif); /* the kernel refuses a dirty buffer */
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
    return; /* ENOENT: the caller is gone already */
  memset(&resp, 0, sizes.seccomp_notif_resp);
  resp.r.id = req.n.id;
  int nr = (int)req.n.data.nr;
  int native = req.n.data.arch == NATIVE_ARCH;
  if (native)
    nr &= (int)NR_MASK;
  if (nr == (native ? NATIVE_SOCKET : COMPAT_SOCKET)) {
    long count = netlink_sockets();
    if (count >= 0 && count < IK_NETLINK_SOCKETS_MAX)
      resp.r.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    else
      resp.r.error = -ENOBUFS;
  } else if (nr == (native ? NATIVE_SOCKETPAIR : COMPAT_SOCKETPAIR)) {
    resp.r.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE; /* netlink has no pairs: the kernel says so */
  } else if (nr == (native ? NATIVE_SETSOCKOPT : COMPAT_SETSOCKOPT)) {
    answer_sockopt(listener, &req.n, &resp.r);
  } else {
    resp.r.error = -ENOSYS; /* the filter sends nothing else */
  }
  ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp); /* ENOENT: it died meanwhile */
}
