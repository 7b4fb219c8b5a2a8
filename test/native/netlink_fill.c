/* Run inside a container by test/integration/escape.test.ts: netlink sockets
 * and the memory their receive queues hold, which no memory cgroup is
 * charged for (netlink skbs are not memcg-accounted).
 *
 * NETLINK_USERSOCK lets any process send unicast to another user socket
 * without a capability: a sender and N receivers that never read held 2 GB
 * in a `memory: '64M'` container. init's seccomp filter
 * (csrc/init/no_userns.c) refuses every netlink protocol but NETLINK_ROUTE,
 * and the ways around socket(): i386's socketcall, io_uring's
 * IORING_OP_SOCKET. NETLINK_ROUTE's replies still queue uncharged (route
 * mode below), so init counts a container's NETLINK_ROUTE sockets and keeps
 * their receive buffers at the default (csrc/init/netlink_guard.c).
 *
 *   gcc -std=gnu11 -O1 -Wall -Wextra -o netlink_fill test/native/netlink_fill.c
 *   netlink_fill probe          one line per attempt, "<name> <result>": "ok",
 *                               an errno name, or "signal N"
 *   netlink_fill fill usersock|route N CAP_MB [HOLD_S]
 *       N sockets with SO_RCVBUF raised to the most the kernel gives, filled
 *       and never read: usersock, by unicast from one more socket; route, by
 *       RTM_GETLINK requests for ifindex 1 whose replies stay queued. Stops
 *       at CAP_MB megabytes held; prints "held <bytes> sockets <n>" (SO_MEMINFO's
 *       receive allocation, summed) or "socket <errno>", then sleeps HOLD_S
 *       seconds (default 0).
 *   netlink_fill buffers        one line per try, "<name> <result>": the
 *                               SO_RCVBUF or SO_SNDBUF a socket reads back after
 *                               asking for 256 KiB (from the main thread, another thread,
 *                               the i386 ABI), or the errno name, for netlink
 *                               and other sockets and bad arguments
 *   netlink_fill parallel P N   P processes at once, each making up to N
 *                               NETLINK_ROUTE sockets and holding them: prints
 *                               "sockets <n>", how many they got together
 *   netlink_fill again N        N sockets (stops at the first refusal), all
 *                               closed, then N more: "first <n> again <m>"
 *   netlink_fill inflight N     N sockets, each sent into a Unix socket pair
 *                               and closed (alive in flight only), one more,
 *                               all received back and closed, then N more:
 *                               "inflight <k> more ok|<errno> back <b> again <a>"
 *   netlink_fill hold ADDR      binds a Unix datagram socket at ADDR ("@name":
 *                               abstract) and keeps every fd sent to it until a
 *                               datagram "E" comes: "held <n>"
 *   netlink_fill give ADDR [end]  NETLINK_ROUTE sockets until one is refused,
 *                               each sent to ADDR and closed here: "gave <k>
 *                               <errno>"; with "end", only the "E" for the holder
 *   netlink_fill cycle N        N sockets sent, with a Unix socket, into that
 *                               socket's own queue, and all closed: garbage
 *                               the kernel's collector frees later: "cycle <k>"
 *   netlink_fill echo N SIZE    N sockets, each its send buffer raised and one
 *                               bogus request of SIZE bytes sent with NLM_F_ACK,
 *                               whose error reply (echoing it) stays queued:
 *                               "held <bytes> sockets <n> sent <k>"
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/io_uring.h>
#include <mqueue.h>
#include <linux/net.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif
#define OP_SOCKET 45 /* IORING_OP_SOCKET (Linux 5.19); older headers lack it */

#include "attempt.h"

static long made(long fd) {
  if (fd < 0)
    return -errno;
  close((int)fd);
  return 0;
}

static long route(void) { return made(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)); }
static long route_dgram(void) { return made(socket(AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE)); }
static long usersock(void) { return made(socket(AF_NETLINK, SOCK_RAW, NETLINK_USERSOCK)); }
static long sock_diag(void) { return made(socket(AF_NETLINK, SOCK_RAW, NETLINK_SOCK_DIAG)); }
static long uevent(void) { return made(socket(AF_NETLINK, SOCK_DGRAM, NETLINK_KOBJECT_UEVENT)); }
static long generic(void) { return made(socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC)); }
/* The protocol is an int: only its low 32 bits count, as in the kernel. */
static long usersock_high_bits(void) { return made(syscall(SYS_socket, AF_NETLINK, SOCK_RAW, 0x100000000L | NETLINK_USERSOCK)); }
static long family_high_bits(void) { return made(syscall(SYS_socket, 0x100000000L | AF_NETLINK, SOCK_RAW, NETLINK_USERSOCK)); }
static long route_high_bits(void) { return made(syscall(SYS_socket, AF_NETLINK, SOCK_RAW, 0x100000000L | NETLINK_ROUTE)); }
static long unix_stream(void) { return made(socket(AF_UNIX, SOCK_STREAM, 0)); }
static long inet_dgram(void) { return made(socket(AF_INET, SOCK_DGRAM, 0)); }

static long pair(int family, int protocol) {
  int sv[2];
  if (socketpair(family, SOCK_RAW, protocol, sv) < 0)
    return -errno;
  close(sv[0]);
  close(sv[1]);
  return 0;
}
static long pair_usersock(void) { return pair(AF_NETLINK, NETLINK_USERSOCK); }
static long pair_route(void) { return pair(AF_NETLINK, NETLINK_ROUTE); }
static long pair_unix(void) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
    return -errno;
  return 0;
}

/* IORING_OP_SOCKET makes a socket without the socket() system call, where
 * no seccomp filter sees its arguments. */
static long uring_usersock(void) {
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  int ring = (int)syscall(__NR_io_uring_setup, 1, &p);
  if (ring < 0)
    return -errno;
  size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  if (p.features & IORING_FEAT_SINGLE_MMAP)
    sq_size = cq_size = sq_size > cq_size ? sq_size : cq_size;
  char *sq = mmap(NULL, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING);
  char *cq = (p.features & IORING_FEAT_SINGLE_MMAP) ? sq : mmap(NULL, cq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_CQ_RING);
  struct io_uring_sqe *sqes = mmap(NULL, p.sq_entries * sizeof *sqes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
  if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED)
    return -errno;
  memset(&sqes[0], 0, sizeof sqes[0]);
  sqes[0].opcode = OP_SOCKET;
  sqes[0].fd = AF_NETLINK;
  sqes[0].off = SOCK_RAW;
  sqes[0].len = NETLINK_USERSOCK;
  unsigned *tail = (unsigned *)(sq + p.sq_off.tail);
  unsigned mask = *(unsigned *)(sq + p.sq_off.ring_mask);
  ((unsigned *)(sq + p.sq_off.array))[*tail & mask] = 0;
  __atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
  if (syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
    return -errno;
  unsigned head = __atomic_load_n((unsigned *)(cq + p.cq_off.head), __ATOMIC_ACQUIRE);
  unsigned cmask = *(unsigned *)(cq + p.cq_off.ring_mask);
  int res = ((struct io_uring_cqe *)(cq + p.cq_off.cqes))[head & cmask].res;
  return res < 0 ? res : made(res);
}

static int route_socket(void) { return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE); }

/* mq_notify() on a new queue (raw calls: no -lrt): SIGEV_THREAD names a
 * netlink socket (sigev_signo) the kernel then holds by the socket, not by
 * its file. Returns 0 or -errno. */
static long notify(int how) {
  char name[32];
  snprintf(name, sizeof name, "ik-probe-%d", (int)getpid());
  struct mq_attr attr = {.mq_maxmsg = 1, .mq_msgsize = 1};
  int q = (int)syscall(SYS_mq_open, name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
  if (q < 0)
    return -errno;
  syscall(SYS_mq_unlink, name);
  static char cookie[32];
  struct sigevent ev;
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = how;
  ev.sigev_signo = how == SIGEV_THREAD ? route_socket() : SIGUSR1;
  ev.sigev_value.sival_ptr = cookie;
  long r = syscall(SYS_mq_notify, q, how < 0 ? NULL : &ev);
  return r < 0 ? -errno : 0;
}
static long notify_thread(void) { return notify(SIGEV_THREAD); }
static long notify_signal(void) { return notify(SIGEV_SIGNAL); }
static long notify_remove(void) { return notify(-1); }

#if defined(__x86_64__)
/* The i386 ABI from a 64-bit process: int 0x80, args in ebx, ecx, edx, esi
 * (pointers must then lie below 4 GiB). */
static long i386_call(long nr, long a, long b, long c, long d) {
  long r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d) : "memory");
  return r;
}
/* Five arguments: edi too. */
static long i386_call5(long nr, long a, long b, long c, long d, long e) {
  long r;
  register long edi __asm__("rdi") = e;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d), "r"(edi) : "memory");
  return r;
}
static long i386_made(long r) {
  if (r < 0)
    return r;
  close((int)r);
  return 0;
}
static unsigned *low_page(void) {
  void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}
static long i386_socket_usersock(void) { return i386_made(i386_call(359, AF_NETLINK, SOCK_RAW, NETLINK_USERSOCK, 0)); }
static long i386_socket_route(void) { return i386_made(i386_call(359, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, 0)); }
static long i386_socketpair_usersock(void) {
  unsigned *sv = low_page();
  if (sv == NULL)
    return -errno;
  return i386_call(360, AF_NETLINK, SOCK_RAW, NETLINK_USERSOCK, (long)(uintptr_t)sv);
}
/* socketcall(SYS_SOCKET, args): the arguments are in memory (below 4 GiB,
 * where a 32-bit pointer reaches), which no seccomp filter can read. */
static long i386_socketcall(int call, long a, long b, long c) {
  unsigned *args = low_page();
  if (args == NULL)
    return -errno;
  args[0] = (unsigned)a;
  args[1] = (unsigned)b;
  args[2] = (unsigned)c;
  args[3] = (unsigned)(uintptr_t)(args + 8); /* socketpair's sv */
  return i386_call(102, call, (long)(uintptr_t)args, 0, 0);
}
static long i386_socketcall_usersock(void) { return i386_made(i386_socketcall(SYS_SOCKET, AF_NETLINK, SOCK_RAW, NETLINK_USERSOCK)); }
static long i386_socketcall_unix(void) { return i386_made(i386_socketcall(SYS_SOCKET, AF_UNIX, SOCK_STREAM, 0)); }
static long i386_socketcall_pair(void) {
  long r = i386_socketcall(SYS_SOCKETPAIR, AF_UNIX, SOCK_STREAM, 0);
  return r < 0 ? r : 0;
}
/* A socketcall that makes no socket stays allowed: getsockname on fd -1. */
static long i386_socketcall_getsockname(void) { return i386_socketcall(SYS_GETSOCKNAME, -1, 0, 0); }
/* i386's mq_notify (281) with a SIGEV_SIGNAL compat sigevent {value, signo, notify}. */
static long i386_notify_signal(void) {
  struct mq_attr attr = {.mq_maxmsg = 1, .mq_msgsize = 1};
  int q = (int)syscall(SYS_mq_open, "ik-probe-i386", O_RDWR | O_CREAT, 0600, &attr);
  syscall(SYS_mq_unlink, "ik-probe-i386");
  int *ev = (int *)low_page();
  if (q < 0 || ev == NULL)
    return -EIO;
  ev[0] = 0;
  ev[1] = SIGUSR1;
  ev[2] = SIGEV_SIGNAL;
  return i386_call(281, q, (long)(uintptr_t)ev, 0, 0);
}
#endif

/* NETLINK_ROUTE still answers: an RTM_GETLINK dump, replies read. */
static long route_dump(void) {
  int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (s < 0)
    return -errno;
  struct {
    struct nlmsghdr h;
    struct ifinfomsg i;
  } req = {{sizeof req, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1, 0}, {.ifi_family = AF_UNSPEC}};
  if (send(s, &req, sizeof req, 0) < 0)
    return -errno;
  static char buf[65536];
  int links = 0;
  for (;;) {
    ssize_t n = recv(s, buf, sizeof buf, 0);
    if (n < 0)
      return -errno;
    for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE)
        return links > 0 ? 0 : -ENOENT;
      if (h->nlmsg_type == NLMSG_ERROR)
        return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
      if (h->nlmsg_type == RTM_NEWLINK)
        links++;
    }
  }
}

/* glibc's getifaddrs asks NETLINK_ROUTE; "lo" must be there. */
static long ifaddrs(void) {
  struct ifaddrs *all;
  if (getifaddrs(&all) < 0)
    return -errno;
  int lo = 0;
  for (struct ifaddrs *a = all; a != NULL; a = a->ifa_next)
    lo |= strcmp(a->ifa_name, "lo") == 0;
  freeifaddrs(all);
  return lo ? 0 : -ENOENT;
}

static int probe(void) {
  attempt("socket(NETLINK_ROUTE)", route);
  attempt("socket(NETLINK_ROUTE, SOCK_DGRAM)", route_dgram);
  attempt("socket(NETLINK_USERSOCK)", usersock);
  attempt("socket(NETLINK_SOCK_DIAG)", sock_diag);
  attempt("socket(NETLINK_KOBJECT_UEVENT)", uevent);
  attempt("socket(NETLINK_GENERIC)", generic);
  attempt("socket(NETLINK_USERSOCK | 1 << 32)", usersock_high_bits);
  attempt("socket(AF_NETLINK | 1 << 32, NETLINK_USERSOCK)", family_high_bits);
  attempt("socket(NETLINK_ROUTE | 1 << 32)", route_high_bits);
  attempt("socket(AF_UNIX)", unix_stream);
  attempt("socket(AF_INET)", inet_dgram);
  attempt("socketpair(NETLINK_USERSOCK)", pair_usersock);
  attempt("socketpair(NETLINK_ROUTE)", pair_route);
  attempt("socketpair(AF_UNIX)", pair_unix);
  attempt("io_uring socket(NETLINK_USERSOCK)", uring_usersock);
#if defined(__x86_64__)
  attempt("i386 socket(NETLINK_USERSOCK)", i386_socket_usersock);
  attempt("i386 socket(NETLINK_ROUTE)", i386_socket_route);
  attempt("i386 socketpair(NETLINK_USERSOCK)", i386_socketpair_usersock);
  attempt("i386 socketcall(SYS_SOCKET, NETLINK_USERSOCK)", i386_socketcall_usersock);
  attempt("i386 socketcall(SYS_SOCKET, AF_UNIX)", i386_socketcall_unix);
  attempt("i386 socketcall(SYS_SOCKETPAIR, AF_UNIX)", i386_socketcall_pair);
  attempt("i386 socketcall(SYS_GETSOCKNAME)", i386_socketcall_getsockname);
  attempt("i386 mq_notify(SIGEV_SIGNAL)", i386_notify_signal);
#endif
  attempt("mq_notify(SIGEV_THREAD)", notify_thread);
  attempt("mq_notify(SIGEV_SIGNAL)", notify_signal);
  attempt("mq_notify(NULL)", notify_remove);
  attempt("RTM_GETLINK dump", route_dump);
  attempt("getifaddrs", ifaddrs);
  return 0;
}

static int fds[1 << 16];
static int n_fds;

static long long rmem(int s) {
  uint32_t mem[SK_MEMINFO_VARS];
  socklen_t len = sizeof mem;
  return getsockopt(s, SOL_SOCKET, SO_MEMINFO, mem, &len) == 0 ? (long long)mem[SK_MEMINFO_RMEM_ALLOC] : -1;
}

/* What the kernel holds in the receive queues of our sockets. */
static long long held(void) {
  long long sum = 0;
  for (int i = 0; i < n_fds; i++)
    sum += rmem(fds[i]);
  return sum;
}

/* A bound netlink socket whose receive buffer is as large as it gets. */
static int receiver(int protocol) {
  int s = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK, protocol);
  if (s < 0)
    return -1;
  int big = 1 << 30; /* the kernel caps it at 2 * net.core.rmem_max */
  setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  setsockopt(s, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  struct sockaddr_nl a = {.nl_family = AF_NETLINK};
  if (bind(s, (void *)&a, sizeof a) < 0) {
    close(s);
    return -1;
  }
  return fds[n_fds++] = s;
}

/* Queues RTM_GETLINK replies on `s` until the kernel drops them. */
static void fill_route(int s) {
  static struct {
    struct nlmsghdr h;
    struct ifinfomsg i;
  } req[256];
  for (unsigned i = 0; i < 256; i++) {
    req[i].h = (struct nlmsghdr){sizeof req[i], RTM_GETLINK, NLM_F_REQUEST, i, 0};
    req[i].i = (struct ifinfomsg){.ifi_family = AF_UNSPEC, .ifi_index = 1};
  }
  long long last = -1;
  for (int idle = 0; idle < 2;) {
    if (send(s, req, sizeof req, 0) < 0 && errno != ENOBUFS && errno != EAGAIN)
      break;
    long long now = rmem(s);
    idle = now <= last ? idle + 1 : 0;
    last = now;
  }
}

/* Sends `s` unicast messages from `tx` until its queue takes no more. */
static void fill_user(int tx, int s) {
  static char msg[65536];
  struct sockaddr_nl a;
  socklen_t len = sizeof a;
  getsockname(s, (void *)&a, &len);
  struct nlmsghdr *h = (void *)msg;
  h->nlmsg_len = sizeof msg - 4096;
  while (sendto(tx, msg, h->nlmsg_len, MSG_DONTWAIT, (void *)&a, len) > 0)
    ;
}

static int fill(const char *kind, int n, long long cap_mb, int hold_s) {
  struct rlimit r;
  getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);
  int user = strcmp(kind, "usersock") == 0;
  int protocol = user ? NETLINK_USERSOCK : NETLINK_ROUTE;
  int tx = -1;
  if (user && (tx = receiver(protocol)) < 0) {
    printf("socket %s\n", err_name(errno));
    return 0;
  }
  n_fds = 0; /* tx's own queue stays empty */
  int sockets = 0;
  long long total = 0;
  while (sockets < n && total < cap_mb << 20 && n_fds < (int)(sizeof fds / sizeof fds[0])) {
    int s = receiver(protocol);
    if (s < 0) {
      printf("socket %s after %d\n", err_name(errno), sockets);
      break;
    }
    if (user)
      fill_user(tx, s);
    else
      fill_route(s);
    sockets++;
    total += rmem(s);
  }
  printf("held %lld sockets %d\n", held(), sockets);
  fflush(stdout);
  if (hold_s > 0)
    sleep((unsigned)hold_s);
  return 0;
}

/* ---- buffers: SO_RCVBUF asked of init (netlink_guard.c) ---- */

#define ASKED (256 * 1024)

/* Prints "<name> <option `opt` read back>" or "<name> <errno name>". */
static void report(const char *name, int s, int opt, long r) {
  if (r < 0) {
    printf("%s %s\n", name, err_name((int)-r));
    return;
  }
  int v = 0;
  socklen_t len = sizeof v;
  getsockopt(s, SOL_SOCKET, opt, &v, &len);
  printf("%s %d\n", name, v);
}

static long set_rcvbuf(int s, int name, const void *value, socklen_t len) {
  return setsockopt(s, SOL_SOCKET, name, value, len) < 0 ? -errno : 0;
}

static int inet_socket(void) { return socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); }

struct on_thread {
  int s, opt;
  long r;
};
static void *set_on_thread(void *arg) {
  struct on_thread *t = arg;
  int v = ASKED;
  t->r = set_rcvbuf(t->s, t->opt, &v, sizeof v);
  return NULL;
}
static long from_thread(int s, int opt) {
  struct on_thread t = {s, opt, 0};
  pthread_t th;
  if (pthread_create(&th, NULL, set_on_thread, &t) != 0)
    return -EAGAIN;
  pthread_join(th, NULL);
  return t.r;
}

static int buffers(void) {
  int v = ASKED;
  static const struct {
    const char *name;
    int (*make)(void);
  } kinds[] = {{"netlink", route_socket}, {"inet", inet_socket}};
  static const struct {
    const char *name;
    int opt, force;
  } opts[] = {{"SO_RCVBUF", SO_RCVBUF, SO_RCVBUFFORCE}, {"SO_SNDBUF", SO_SNDBUF, SO_SNDBUFFORCE}};
  char name[64];
  for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
    for (size_t o = 0; o < sizeof opts / sizeof opts[0]; o++) {
      int opt = opts[o].opt;
      int s = kinds[k].make();
      snprintf(name, sizeof name, "%s %s", kinds[k].name, opts[o].name);
      report(name, s, opt, set_rcvbuf(s, opt, &v, sizeof v));
      close(s);
      s = kinds[k].make();
      snprintf(name, sizeof name, "%s %sFORCE", kinds[k].name, opts[o].name);
      report(name, s, opt, set_rcvbuf(s, opts[o].force, &v, sizeof v));
      close(s);
      s = kinds[k].make();
      snprintf(name, sizeof name, "%s %s from a thread", kinds[k].name, opts[o].name);
      report(name, s, opt, from_thread(s, opt));
      snprintf(name, sizeof name, "%s %s short", kinds[k].name, opts[o].name);
      report(name, s, opt, set_rcvbuf(s, opt, &v, 2));
      snprintf(name, sizeof name, "%s %s bad pointer", kinds[k].name, opts[o].name);
      report(name, s, opt, set_rcvbuf(s, opt, (void *)8, sizeof v));
      close(s);
    }
  }
  int file = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  printf("file SO_RCVBUF %s\n", err_name((int)-set_rcvbuf(file, SO_RCVBUF, &v, sizeof v)));
  close(file);
  printf("closed fd SO_RCVBUF %s\n", err_name((int)-set_rcvbuf(1000, SO_RCVBUF, &v, sizeof v)));
  /* Another option of netlink's: not init's business. */
  int s = route_socket();
  printf("netlink SO_PRIORITY set %s\n", set_rcvbuf(s, SO_PRIORITY, &v, sizeof v) == 0 ? "ok" : err_name(errno));
  close(s);
#if defined(__x86_64__)
  /* i386's setsockopt (366) and socketcall(SYS_SETSOCKOPT), with the value below 4 GiB. */
  /* Where int 0x80 kills the process, outside any container too, say so instead. */
  unsigned *low = i386_abi_runs() ? mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0) : MAP_FAILED;
  if (low == MAP_FAILED)
    printf("i386 ABI absent\n");
  else {
    low[0] = ASKED;
    s = route_socket();
    report("i386 netlink SO_RCVBUF", s, SO_RCVBUF, i386_call5(366, s, SOL_SOCKET, SO_RCVBUF, (long)(uintptr_t)low, sizeof(int)));
    close(s);
    s = inet_socket();
    report("i386 inet SO_RCVBUF", s, SO_RCVBUF, i386_call5(366, s, SOL_SOCKET, SO_RCVBUF, (long)(uintptr_t)low, sizeof(int)));
    unsigned *args = low + 16;
    args[0] = (unsigned)s;
    args[1] = SOL_SOCKET;
    args[2] = SO_RCVBUF;
    args[3] = (unsigned)(uintptr_t)low;
    args[4] = sizeof(int);
    long r = i386_call(102, SYS_SETSOCKOPT, (long)(uintptr_t)args, 0, 0);
    printf("i386 socketcall(SYS_SETSOCKOPT) %s\n", r == 0 ? "ok" : err_name((int)-r));
    close(s);
  }
#endif
  return 0;
}

/* ---- echo: error replies, which carry the whole request ---- */

/* N sockets, each sending one bogus request of `size` bytes with NLM_F_ACK
 * (its send buffer raised first), never reading the error that echoes it. */
static int echo(int n, size_t size) {
  static char *msg;
  msg = calloc(1, size);
  int big = 1 << 30, sent = 0, sockets = 0;
  n_fds = 0;
  for (; sockets < n; sockets++) {
    int s = route_socket();
    if (s < 0)
      break;
    fds[n_fds++] = s;
    setsockopt(s, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    struct nlmsghdr *h = (void *)msg;
    *h = (struct nlmsghdr){(__u32)size, 0x7fff, NLM_F_REQUEST | NLM_F_ACK, 1, 0};
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(s, msg, size, 0, (void *)&kernel, sizeof kernel) >= 0)
      sent++;
  }
  printf("held %lld sockets %d sent %d\n", held(), sockets, sent);
  return 0;
}

/* ---- parallel: the count, raced by several processes ---- */

static int parallel(int procs, int n) {
  int ready[2], done[2];
  if (pipe(ready) < 0 || pipe(done) < 0)
    return 2;
  for (int p = 0; p < procs; p++) {
    if (fork() == 0) {
      close(ready[0]);
      close(done[1]);
      unsigned char got = 0;
      while (got < n && got < 255 && route_socket() >= 0)
        got++;
      write(ready[1], &got, 1);
      read(done[0], &got, 1); /* hold them until the parent has counted */
      _exit(0);
    }
  }
  close(ready[1]);
  close(done[0]);
  long sum = 0;
  for (int p = 0; p < procs; p++) {
    unsigned char got = 0;
    read(ready[0], &got, 1);
    sum += got;
  }
  printf("sockets %ld\n", sum);
  close(done[1]);
  while (wait(NULL) > 0)
    ;
  return 0;
}

static int open_up_to(int n, int *held);

/* ---- inflight: a socket in flight in a Unix socket still counts ---- */

static int send_fd(int via, int fd) {
  char c = 0;
  struct iovec iov = {&c, 1};
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } cm;
  memset(&cm, 0, sizeof cm);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof cm.buf};
  struct cmsghdr *h = CMSG_FIRSTHDR(&msg);
  h->cmsg_level = SOL_SOCKET;
  h->cmsg_type = SCM_RIGHTS;
  h->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(h), &fd, sizeof fd);
  return sendmsg(via, &msg, 0) == 1 ? 0 : -1;
}

/* One message of send_fd()'s (its byte in *byte): the fd it carried, -1
 * when it carried none, -2 at EOF or on an error (EINTR retried). */
static int recv_one(int via, int flags, char *byte) {
  struct iovec iov = {byte, 1};
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } cm;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof cm.buf};
  ssize_t n;
  while ((n = recvmsg(via, &msg, flags)) < 0 && errno == EINTR)
    ;
  if (n != 1)
    return -2;
  struct cmsghdr *h = CMSG_FIRSTHDR(&msg);
  if (h == NULL || h->cmsg_type != SCM_RIGHTS)
    return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(h), sizeof fd);
  return fd;
}

static int recv_fd(int via) {
  char c;
  int fd = recv_one(via, MSG_DONTWAIT, &c);
  return fd < 0 ? -1 : fd;
}

/* Up to n sockets (until one is refused), each sent over `via` and closed
 * here: how many, or -1 when one could not be sent. */
static int send_sockets(int via, int n) {
  int k = 0;
  for (int s; k < n && (s = route_socket()) >= 0; k++) {
    if (send_fd(via, s) < 0)
      return -1;
    close(s);
  }
  return k;
}

/* N sockets each sent into a Unix socket pair and closed here (alive only
 * in flight), then one more; all received back and closed; then N more:
 * "inflight <k> more <m> back <b> again <a>". */
static int inflight(int n) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM, 0, pair) < 0)
    return 2;
  int k = send_sockets(pair[0], n);
  if (k < 0)
    return 2;
  int more = route_socket();
  int more_err = errno;
  int b = 0;
  for (int fd; (fd = recv_fd(pair[1])) >= 0; b++)
    close(fd);
  static int held[4096];
  int again_n = open_up_to(n > 4096 ? 4096 : n, held);
  printf("inflight %d more %s back %d again %d\n", k, more >= 0 ? "ok" : err_name(more_err), b, again_n);
  return 0;
}

/* ---- give / hold: a socket passed out of a container outlives it ---- */

static socklen_t unix_addr(struct sockaddr_un *a, const char *where) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  size_t n = strlen(where);
  if (n >= sizeof a->sun_path)
    n = sizeof a->sun_path - 1;
  memcpy(a->sun_path, where, n);
  if (where[0] == '@')
    a->sun_path[0] = 0; /* abstract: per network namespace */
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
}

/* Keeps what comes to `where` until "E": "held <n>". */
static int hold(const char *where) {
  struct sockaddr_un a;
  socklen_t len = unix_addr(&a, where);
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0 || bind(s, (struct sockaddr *)&a, len) < 0) {
    printf("bind %s\n", err_name(errno));
    return 1;
  }
  int held = 0;
  for (;;) {
    char c = 0;
    int fd = recv_one(s, 0, &c);
    if (fd == -2 || c == 'E')
      break;
    if (fd >= 0)
      held++; /* kept open, never read */
  }
  printf("held %d\n", held);
  return 0;
}

/* Connects to `where`, waiting up to 10 s for the holder to bind it. */
static int connect_to(const char *where) {
  struct sockaddr_un a;
  socklen_t len = unix_addr(&a, where);
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  for (int tries = 0; s >= 0 && tries < 1000; tries++) {
    if (connect(s, (struct sockaddr *)&a, len) == 0)
      return s;
    usleep(10000);
  }
  return -1;
}

static int give(const char *where, int end) {
  int via = connect_to(where);
  if (via < 0) {
    printf("connect %s\n", err_name(errno));
    return 1;
  }
  if (end) {
    char c = 'E';
    return send(via, &c, 1, 0) == 1 ? 0 : 1;
  }
  int k = send_sockets(via, 1 << 20);
  if (k < 0) {
    printf("send %s\n", err_name(errno));
    return 1;
  }
  printf("gave %d %s\n", k, err_name(errno));
  return 0;
}

/* N sockets in a cycle: sv[0] holds itself in flight, with them. */
static int cycle(int n) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0)
    return 2;
  int k = send_sockets(sv[1], n);
  if (k < 0 || send_fd(sv[1], sv[0]) < 0)
    return 2;
  close(sv[0]);
  close(sv[1]);
  printf("cycle %d\n", k);
  return 0;
}

/* ---- again: closed sockets no longer count ---- */

static int open_up_to(int n, int *held) {
  int k = 0;
  while (k < n && (held[k] = route_socket()) >= 0)
    k++;
  return k;
}

static int again(int n) {
  static int held[4096];
  if (n > 4096)
    n = 4096;
  int first = open_up_to(n, held);
  for (int i = 0; i < first; i++)
    close(held[i]);
  int second = open_up_to(n, held);
  printf("first %d again %d\n", first, second);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);
  if (argc >= 2 && strcmp(argv[1], "probe") == 0)
    return probe();
  if (argc >= 5 && strcmp(argv[1], "fill") == 0)
    return fill(argv[2], atoi(argv[3]), atoll(argv[4]), argc >= 6 ? atoi(argv[5]) : 0);
  if (argc >= 2 && strcmp(argv[1], "buffers") == 0)
    return buffers();
  if (argc >= 4 && strcmp(argv[1], "parallel") == 0)
    return parallel(atoi(argv[2]), atoi(argv[3]));
  if (argc >= 3 && strcmp(argv[1], "again") == 0)
    return again(atoi(argv[2]));
  if (argc >= 3 && strcmp(argv[1], "inflight") == 0)
    return inflight(atoi(argv[2]));
  if (argc >= 3 && strcmp(argv[1], "cycle") == 0)
    return cycle(atoi(argv[2]));
  if (argc >= 3 && strcmp(argv[1], "hold") == 0)
    return hold(argv[2]);
  if (argc >= 3 && strcmp(argv[1], "give") == 0)
    return give(argv[2], argc >= 4 && strcmp(argv[3], "end") == 0);
  if (argc >= 4 && strcmp(argv[1], "echo") == 0)
    return echo(atoi(argv[2]), (size_t)atol(argv[3]));
  fprintf(stderr, "usage: %s probe | fill usersock|route N CAP_MB [HOLD_S] | buffers | parallel P N | again N | inflight N | cycle N | hold ADDR | give ADDR [end] | echo N SIZE\n", argv[0]);
  return 2;
}
