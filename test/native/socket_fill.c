/* Run inside a container by test/integration/cgroup.test.ts: fills the
 * queues of loopback sockets (its own, in its own network namespace) and
 * never reads them, so the memory is held by the kernel for the sockets,
 * not by the process: its resident set stays small.
 *   tcp: connections, each sent to until a non-blocking send takes no more;
 *   udp: bound sockets, each sent 8 datagrams of 60,000 bytes (more than
 *        a default receive buffer holds).
 * Stops at CAP_MB megabytes taken (sent on TCP, held on UDP), after 1000
 * sockets, or when 8 in a row take nothing. Prints "held <bytes>": what the kernel holds for its
 * sockets (SO_MEMINFO: receive and send queues, and what each has reserved
 * ahead), summed over all of them.
 *
 * On cgroup v1 the kernel charges socket buffers to a group only once its
 * memory.kmem.tcp.limit_in_bytes has been written; before isolate-kit wrote
 * it, a container with a 64M limit held gigabytes this way.
 *
 *   gcc -std=gnu11 -O1 -Wall -Wextra -o socket_fill test/native/socket_fill.c
 *   socket_fill tcp|udp CAP_MB
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_SOCKETS 1000

static char buf[65536];
static int fds[2 * MAX_SOCKETS + 2];
static int n_fds;

static struct sockaddr_in loopback(void) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  return a;
}

/* A bound socket of `type` on a free loopback port, its address in *a. */
static int bound(int type, struct sockaddr_in *a) {
  *a = loopback();
  socklen_t len = sizeof *a;
  int s = socket(AF_INET, type, 0);
  if (s < 0 || bind(s, (void *)a, sizeof *a) < 0 || getsockname(s, (void *)a, &len) < 0)
    return -1;
  return fds[n_fds++] = s;
}

/* One more socket filled; returns the bytes it took, or -1. */
static long long fill_tcp(int ls, const struct sockaddr_in *a) {
  int c = socket(AF_INET, SOCK_STREAM, 0);
  if (c < 0 || connect(c, (const void *)a, sizeof *a) < 0)
    return -1;
  fds[n_fds++] = c;
  int s = accept(ls, NULL, NULL);
  if (s < 0)
    return -1;
  fds[n_fds++] = s;
  long long sent = 0;
  ssize_t n;
  while ((n = send(c, buf, sizeof buf, MSG_DONTWAIT)) > 0)
    sent += n;
  return sent;
}

/* What the kernel holds for socket `fd`: its queues and what it reserved ahead. */
static long long held_by(int fd) {
  __u32 mem[SK_MEMINFO_VARS];
  socklen_t len = sizeof mem;
  if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) < 0)
    return 0;
  return (long long)mem[SK_MEMINFO_RMEM_ALLOC] + mem[SK_MEMINFO_WMEM_QUEUED] + mem[SK_MEMINFO_FWD_ALLOC];
}

/* A datagram that does not fit is dropped, not refused: what counts is what
 * the receiver then holds. */
static long long fill_udp(int tx) {
  struct sockaddr_in a;
  int s = bound(SOCK_DGRAM, &a);
  if (s < 0)
    return -1;
  for (int k = 0; k < 8; k++)
    sendto(tx, buf, 60000, MSG_DONTWAIT, (void *)&a, sizeof a);
  return held_by(s);
}

int main(int argc, char **argv) {
  int udp = argc > 1 && strcmp(argv[1], "udp") == 0;
  long long cap = (argc > 2 ? atoll(argv[2]) : 256) << 20;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  memset(buf, 'x', sizeof buf);
  struct sockaddr_in a;
  int first = udp ? socket(AF_INET, SOCK_DGRAM, 0) : bound(SOCK_STREAM, &a);
  if (first < 0 || (!udp && listen(first, 1024) < 0)) {
    perror("socket_fill: first socket");
    return 2;
  }
  long long total = 0;
  int empty = 0;
  for (int i = 0; i < MAX_SOCKETS && total < cap && empty < 8; i++) {
    long long took = udp ? fill_udp(first) : fill_tcp(first, &a);
    if (took < 0)
      break;
    total += took;
    empty = took == 0 ? empty + 1 : 0;
  }
  long long held = 0;
  for (int k = 0; k < n_fds; k++)
    held += held_by(fds[k]);
  printf("held %lld\n", held);
  return 0;
}
