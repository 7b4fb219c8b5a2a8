/* init's answers to the calls its seccomp filter (no_userns.c) sends it.
 *
 * Why: the kernel charges what netlink sockets queue to no memory cgroup.
 * NETLINK_ROUTE stays allowed (getifaddrs, getaddrinfo's AI_ADDRCONFIG,
 * `ip`), and it answers every request: replies a payload never reads stay
 * queued, up to the socket's receive buffer. With SO_RCVBUF raised to
 * 2 * net.core.rmem_max (no capability needed) and thousands of sockets, a
 * `memory: '64M'` container held 2 GB. A queue may pass its buffer by one
 * reply, and an error reply echoes its request, as large as the send
 * buffer. So:
 *   socket(AF_NETLINK, *, NETLINK_ROUTE): init makes the socket itself, in
 *     the container's network namespace (init's), and puts it in the
 *     caller's fd table (SECCOMP_IOCTL_NOTIF_ADDFD), while fewer than
 *     IK_NETLINK_SOCKETS_MAX of those it made live; else ENOBUFS (glibc's
 *     getaddrinfo then assumes both address families, as on any failure).
 *     The count is the kernel's: each socket init makes goes into an epoll
 *     set of init's before init hands it over and closes its own fd. epoll
 *     holds no reference: the kernel drops the entry when the socket's last
 *     reference goes (every fd closed, none in flight in a Unix socket), and
 *     the set's /proc/self/fdinfo lists what is left. Only the container's
 *     own sockets count, so this holds with the host's network namespace
 *     too, where the namespace's own count (/proc/net/protocols, used
 *     before) would be the host's. Made one at a time by init, the sockets
 *     cannot race past it. A caller in another network namespace (which
 *     only CAP_SYS_ADMIN gets) makes its own, uncounted.
 *     The set outlives the container: the parent made it and passed it
 *     (fd 5), init tells it when the first socket goes in (IK_MSG_NETLINK),
 *     and the parent keeps it after the container has ended while any of
 *     its sockets is still open. A socket passed out
 *     (SCM_RIGHTS, over a Unix socket another container reaches) would
 *     otherwise leave every count when its container ends: a review's
 *     holder gathered 2,400 from 150 short-lived containers, 510 MB queued.
 *     While such sockets of ended containers number IK_NETLINK_ORPHANS_MAX
 *     or more, new containers get refuse_all (netlink_ledger.h).
 *   setsockopt(SOL_SOCKET, SO_RCVBUF or SO_SNDBUF) on a netlink socket:
 *     "done", and nothing changes: the buffers stay at
 *     net.core.{r,w}mem_default (208 KiB unless the host raised them); the
 *     *FORCE forms there: EPERM, as without CAP_NET_ADMIN. On any other
 *     socket the call is made here, on init's own copy of the caller's
 *     socket (pidfd_getfd), so that what was checked is what is changed:
 *     had init let the call go on, a thread swapping the fd for a netlink
 *     socket meanwhile would get the big buffer. The *FORCE forms are made
 *     only for a caller with CAP_NET_ADMIN (EPERM otherwise, as the kernel
 *     says), so init lends no capability.
 *     That work runs in a short-lived child (vfork) which exits with the
 *     copy open: the last close of a payload's socket can block (a TCP
 *     socket with SO_LINGER waits out its linger time), except in an
 *     exiting process. init itself never holds a payload's file.
 * Together: at most about 16 * (208 + 208 + 32) KiB uncharged per container.
 *
 * Each answer costs the caller a round trip to init (measured: socket()
 * and close() 50-70 µs instead of 5, the first in a container ~240 µs, a buffer setsockopt() on another
 * socket ~130 µs instead of 1, most of it the child); programs make such
 * calls rarely. init answers between its other work
 * (main.c's loop); a call waits while init is busy. What init cannot find
 * out (the caller died, no process left under `pids` for the child) is
 * answered "done, nothing changed" for a buffer and ENOBUFS for a socket:
 * never more than the rules allow.
 */
#define _GNU_SOURCE
#include "netlink_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../compat.h"
#include "../epoll_entries.h"
#include "../fdpass.h"
#include "../ik_proto.h"
#include "syscall_nrs.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* the same on every ABI */
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL /* Linux 6.9: a pidfd of one thread */
#endif

uint32_t ik_netlink_guard_secret[2];
/* Every NETLINK_ROUTE socket refused: see ik_netlink_guard_ready(). */
static int refuse_all;
/* The kernel's sizes of a notification and a response, which may be larger
 * than this header's structs (it zero-fills what we do not know). */
static struct seccomp_notif_sizes sizes;

int ik_netlink_guard_ready(int refuse) {
  refuse_all = refuse;
  /* Linux 5.9 has all this needs (SECCOMP_IOCTL_NOTIF_ADDFD, 5.6's
   * pidfd_getfd, 5.5's SECCOMP_USER_NOTIF_FLAG_CONTINUE), and
   * close_range(), which says ENOSYS before: closing no fd, it answers 0. */
  if (syscall(SYS_close_range, ~0u, ~0u, 0) != 0)
    return 0;
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0 || sizes.seccomp_notif > 512 ||
      sizes.seccomp_notif_resp > 512)
    return 0;
  if (getrandom(ik_netlink_guard_secret, sizeof ik_netlink_guard_secret, GRND_NONBLOCK) != sizeof ik_netlink_guard_secret ||
      ik_netlink_guard_secret[0] == 0 || ik_netlink_guard_secret[1] == 0)
    return 0;
  return 1;
}

/* The value of field `key` ("Tgid:") in `who`/status ("self", "1234")
 * under the procfs `proc`, read into `buf`, or NULL. */
static const char *status_field_at(int proc, const char *who, const char *key, char *buf, size_t size) {
  char path[64];
  snprintf(path, sizeof path, "%s/status", who);
  int fd = proc < 0 ? -1 : openat(proc, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  ssize_t n = read(fd, buf, size - 1);
  close(fd);
  if (n <= 0)
    return NULL;
  buf[n] = 0;
  size_t len = strlen(key);
  for (const char *line = buf; *line != 0;) {
    if (strncmp(line, key, len) == 0)
      return line + len;
    const char *nl = strchr(line, '\n');
    if (nl == NULL)
      break;
    line = nl + 1;
  }
  return NULL;
}

/* A procfs of init's own pid namespace, mounted nowhere (fsmount makes a
 * detached mount), made at the first call that looks a caller up. The
 * kernel names the caller by its pid in init's pid namespace, and init's
 * /proc shows that namespace only where the container has a mount
 * namespace of its own (init mounted it there). Without one (namespaces
 * ['pid'] or ['pid', 'net']) /proc is the host's, where the same number is
 * another process: a review found the count skipped (the caller looked to
 * be in another network namespace: 2,969 sockets) and CAP_NET_ADMIN read
 * off a kernel thread (SO_RCVBUFFORCE granted to nobody). -1 until found. */
static int proc_fd = -1;

static int own_proc(void) {
  if (proc_fd >= 0)
    return proc_fd;
  /* init's /proc, where it shows init's pid namespace (the container has a
   * mount namespace, and init mounted it): its "NSpid:" (the pid in each
   * namespace from the procfs's down to init's own) is then init's pid
   * alone. A new procfs costs ~70 µs more at the first call; this one is
   * there already. */
  int proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
  char status[4096];
  const char *nspid = status_field_at(proc, "self", "NSpid:", status, sizeof status);
  if (nspid != NULL) {
    char *end;
    long pid = strtol(nspid, &end, 10);
    end += strspn(end, " \t");
    if (pid == (long)getpid() && (*end == '\n' || *end == 0))
      return proc_fd = proc;
  }
  if (proc >= 0)
    close(proc);
  int fs = ik_fsopen("proc", FSOPEN_CLOEXEC);
  if (fs < 0)
    return -1;
  if (ik_fsconfig(fs, IK_FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
    proc_fd = ik_fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
  close(fs);
  return proc_fd;
}

/* The epoll set of the netlink sockets init made that are still alive
 * somewhere (see the top of this file): the parent's, fd 5. */
static int live_set = -1;
/* Whether the parent has heard that sockets go in (most containers make
 * none, and then it need not look at the set at their end). */
static int reported;

void ik_netlink_guard_count_in(int set) { live_set = set; }

/* Tells the parent, once, that sockets go into live_set. 0, or -1: no
 * socket then, since the parent would not count them. */
static int report_use(int report) {
  if (reported)
    return 0;
  struct ik_msg m;
  memset(&m, 0, sizeof m);
  m.type = IK_MSG_NETLINK;
  m.id = IK_ID_CONTAINER;
  if (ik_send_fds(report, &m, sizeof m, NULL, 0) < 0)
    return -1;
  reported = 1;
  return 0;
}

/* Sockets in live_set, or -1. */
static long live_sockets(int report) {
  if (live_set < 0 || report_use(report) < 0)
    return -1;
  char path[64];
  snprintf(path, sizeof path, "self/fdinfo/%d", live_set);
  int proc = own_proc();
  /* -1 also for more than we ever let in: refuse rather than guess. */
  return ik_epoll_entries(proc < 0 ? -1 : openat(proc, path, O_RDONLY | O_CLOEXEC));
}

/* status_field_at() of thread `tid` in init's pid namespace. */
static const char *status_field(pid_t tid, const char *key, char *buf, size_t size) {
  char who[16];
  snprintf(who, sizeof who, "%d", (int)tid);
  return status_field_at(own_proc(), who, key, buf, size);
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
  char status[4096];
  const char *tgid = status_field(tid, "Tgid:", status, sizeof status);
  return tgid == NULL ? -1 : (int)syscall(SYS_pidfd_open, (pid_t)atoi(tgid), 0);
}

/* Whether thread `tid` has CAP_NET_ADMIN in its effective set. */
static int has_net_admin(pid_t tid) {
  char status[4096];
  const char *eff = status_field(tid, "CapEff:", status, sizeof status);
  return eff != NULL && (strtoull(eff, NULL, 16) >> 12 & 1); /* CAP_NET_ADMIN = 12 */
}

/* Whether thread `tid` is in init's network namespace: 1 or 0, or -1 when
 * that cannot be told (then the caller gets no socket). */
static int in_our_netns(pid_t tid) {
  char path[64];
  struct stat ours, theirs;
  snprintf(path, sizeof path, "%d/ns/net", (int)tid);
  int proc = own_proc();
  if (proc < 0 || fstatat(proc, "self/ns/net", &ours, 0) < 0 || fstatat(proc, path, &theirs, 0) < 0)
    return -1;
  return ours.st_ino == theirs.st_ino && ours.st_dev == theirs.st_dev;
}

/* What the child of answer_sockopt() found: 0, -errno, or NOT_SEEN. */
#define NOT_SEEN 1

/* setsockopt(fd, SOL_SOCKET, name, optval, optlen) of the caller: what the
 * kernel would answer, except that a netlink socket's buffers stay. */
static void answer_sockopt(int listener, const struct seccomp_notif *req, struct seccomp_notif_resp *resp) {
  int name = (int)req->data.args[2];
  int force = name == SO_RCVBUFFORCE || name == SO_SNDBUFFORCE;
  int plain = name == SO_RCVBUFFORCE ? SO_RCVBUF : name == SO_SNDBUFFORCE ? SO_SNDBUF : name;
  int pidfd = pidfd_of((pid_t)req->pid);
  __u64 id = req->id;
  /* The call must still be waiting once the pidfd exists, or its pid may
   * be another process's already. */
  if (pidfd < 0 || ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0) {
    if (pidfd >= 0)
      close(pidfd);
    return; /* not seen: "done", nothing changed */
  }
  int may_force = force && has_net_admin((pid_t)req->pid);
  volatile int found = NOT_SEEN;
  pid_t child = vfork();
  if (child == 0) {
    /* Shares init's memory until it exits; only system calls here. */
    int s = (int)syscall(SYS_pidfd_getfd, pidfd, (int)req->data.args[0], 0);
    int domain = 0, value;
    socklen_t len = sizeof domain;
    struct iovec local = {&value, sizeof value};
    struct iovec remote = {(void *)(uintptr_t)req->data.args[3], sizeof value};
    if (s < 0)
      found = errno == EBADF ? -EBADF : NOT_SEEN;
    else if (getsockopt(s, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
      found = -errno; /* ENOTSOCK */
    else if (force && (domain == AF_NETLINK || !may_force))
      found = -EPERM;
    else if ((unsigned)req->data.args[4] < sizeof value)
      found = -EINVAL;
    else if (process_vm_readv((pid_t)req->pid, &local, 1, &remote, 1, 0) != (ssize_t)sizeof value)
      found = -EFAULT;
    else if (domain == AF_NETLINK)
      found = 0; /* "done", nothing changed */
    else
      found = syscall(SYS_setsockopt, s, SOL_SOCKET | (long)ik_netlink_guard_secret[0] << 32,
                      (force ? name : plain) | (long)ik_netlink_guard_secret[1] << 32, &value, sizeof value) < 0
                  ? -errno
                  : 0; /* the secret: see no_userns.c */
    _exit(0); /* closes the copy as an exiting process: no linger */
  }
  if (child > 0)
    while (waitpid(child, NULL, __WALL) < 0 && errno == EINTR)
      ;
  close(pidfd);
  if (found <= 0)
    resp->error = found;
}

/* socket(AF_NETLINK, type, NETLINK_ROUTE) of the caller. Returns 1 when
 * the answer has been sent with the fd (SECCOMP_ADDFD_FLAG_SEND). */
static int answer_socket(int listener, int report, const struct seccomp_notif *req, struct seccomp_notif_resp *resp) {
  long count = refuse_all ? -1 : live_sockets(report);
  if (count < 0 || count >= IK_NETLINK_SOCKETS_MAX) {
    resp->error = -ENOBUFS;
    return 0;
  }
  int ours = in_our_netns((pid_t)req->pid);
  if (ours < 0) {
    resp->error = -ENOBUFS; /* never more than the rules allow */
    return 0;
  }
  if (!ours) {
    resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE; /* its own namespace: its own socket */
    return 0;
  }
  int type = (int)req->data.args[1];
  int s = (int)syscall(SYS_socket, AF_NETLINK | (long)ik_netlink_guard_secret[0] << 32, type,
                       NETLINK_ROUTE | (long)ik_netlink_guard_secret[1] << 32);
  if (s < 0) {
    resp->error = -errno; /* what the caller's own call would have said */
    return 0;
  }
  /* Counted from now until its last reference goes (no events wanted). */
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  if (epoll_ctl(live_set, EPOLL_CTL_ADD, s, &ev) < 0) {
    close(s);
    resp->error = -ENOBUFS;
    return 0;
  }
  struct seccomp_notif_addfd add;
  memset(&add, 0, sizeof add);
  add.id = req->id;
  add.flags = SECCOMP_ADDFD_FLAG_SEND;
  add.srcfd = (__u32)s;
  add.newfd_flags = (type & SOCK_CLOEXEC) ? O_CLOEXEC : 0;
  int sent = 1;
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add) < 0) {
    sent = 0;
    if (errno == EINVAL) {
      /* Linux 5.9-5.13: no SEND; the fd, then the answer. */
      add.flags = 0;
      int fd = ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
      if (fd >= 0)
        resp->val = fd;
      else
        resp->error = -ENOBUFS;
    } else if (errno != ENOENT) {
      resp->error = -ENOBUFS; /* ENOENT: the caller died; else refuse rather than race */
    }
  }
  close(s); /* the caller's copy keeps it (and its entry in live_set); not sent: both go */
  return sent;
}

void ik_netlink_guard_answer(int listener, int report) {
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
    if (answer_socket(listener, report, &req.n, &resp.r))
      return;
  } else if (nr == (native ? NATIVE_SOCKETPAIR : COMPAT_SOCKETPAIR)) {
    resp.r.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE; /* netlink has no pairs: the kernel says so */
  } else if (native ? nr == NATIVE_SETSOCKOPT || nr == X32_SETSOCKOPT : nr == COMPAT_SETSOCKOPT) {
    answer_sockopt(listener, &req.n, &resp.r);
  } else {
    resp.r.error = -ENOSYS; /* the filter sends nothing else */
  }
  ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp); /* ENOENT: it died meanwhile */
}
