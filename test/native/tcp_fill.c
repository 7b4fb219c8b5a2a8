/* Run inside a container by test/integration/cgroup.test.ts: fills the
 * send and receive queues of loopback TCP connections (its own, in its own
 * network namespace) without ever reading them, so the memory is held by
 * the kernel for the socket, not by the process: its resident set stays
 * small. Stops at CAP_MB megabytes queued, or when no connection takes
 * more. Prints "queued <bytes>".
 *
 * On cgroup v1 the kernel charges socket buffers to a group only once its
 * memory.kmem.tcp.limit_in_bytes has been written; before isolate-kit wrote
 * it, a container with a 64M limit held gigabytes this way.
 *
 *   gcc -std=gnu11 -O1 -Wall -Wextra -o tcp_fill test/native/tcp_fill.c
 *   tcp_fill CAP_MB
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  long long cap = (argc > 1 ? atoll(argv[1]) : 256) << 20;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  static char buf[65536];
  memset(buf, 'x', sizeof buf);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  if (ls < 0 || bind(ls, (void *)&a, sizeof a) < 0 || listen(ls, 1024) < 0 || getsockname(ls, (void *)&a, &len) < 0) {
    perror("tcp_fill: listen");
    return 2;
  }
  long long total = 0;
  int empty = 0; /* connections in a row that took nothing */
  for (int i = 0; i < 1000 && total < cap && empty < 8; i++) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (void *)&a, sizeof a) < 0 || accept(ls, NULL, NULL) < 0) break;
    long long before = total;
    for (;;) {
      ssize_t n = send(c, buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) break;
      total += n;
    }
    empty = total == before ? empty + 1 : 0;
  }
  printf("queued %lld\n", total);
  return 0;
}
