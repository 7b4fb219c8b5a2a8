/* A stand-in for the container init that behaves as a compromised one
 * would on the control socket, for test/integration/init-trust.test.ts
 * (through test/fixtures/init-trust.ts, with ISOLATE_KIT_NATIVE_DIR and
 * ISOLATE_KIT_NO_ZYGOTE=1). It carries out no plan: it reads a mode from
 * MODE_FILE (a host path; nothing is mounted over it), does that, says the
 * container is ready and waits for the Node process to hang up.
 *
 *   hold-nofd:N      two HOLD records with a = N and no fd
 *   hold-twice:A:B   HOLD with an O_PATH fd of directory A, then one of B
 *   flood[:ready]    FAIL (or READY) of the container, forever, from 3 processes
 *   linger:S         a TCP socket with unsent data, SO_LINGER {1, S}, on a NETLINK record
 *   poison           16 of its stdio files (the caller's) in the netlink set, then NETLINK
 *
 *   gcc -std=gnu11 -O1 -Wall -Wextra -DMODE_FILE='"…/mode"' -o isolate-kit-init hostile_init.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../csrc/ik_proto.h"

enum { CTRL = 4, NETLINK_SET = 5 };

static void send_msg(uint32_t type, int32_t a, int fd) {
  struct ik_msg m;
  memset(&m, 0, sizeof m);
  m.type = type;
  m.id = IK_ID_CONTAINER;
  m.a = a;
  char cbuf[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {&m, sizeof m};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (fd >= 0) {
    memset(cbuf, 0, sizeof cbuf);
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  if (sendmsg(CTRL, &msg, MSG_NOSIGNAL) < 0)
    _exit(0); /* the Node process hung up */
}

/* A loopback TCP connection whose peer (kept) never reads, filled until it
 * blocks: closing it lingers `secs` seconds. */
static int lingering_socket(int secs) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags |= IFF_UP;
    ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  close(s);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  int small = 4096, l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  setsockopt(c, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  bind(l, (struct sockaddr *)&a, sizeof a);
  listen(l, 1);
  getsockname(l, (struct sockaddr *)&a, &al);
  connect(c, (struct sockaddr *)&a, sizeof a);
  struct pollfd p = {c, POLLOUT, 0};
  poll(&p, 1, 1000);
  if (accept(l, NULL, NULL) < 0) /* the peer, left open and unread */
    _exit(3);
  char buf[4096];
  memset(buf, 'x', sizeof buf);
  for (int k = 0; k < 2000; k++)
    if (send(c, buf, sizeof buf, MSG_NOSIGNAL) < 0 && (errno != EAGAIN || poll(&p, 1, 50) <= 0))
      break;
  struct linger lg = {1, secs};
  setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  fcntl(c, F_SETFL, fcntl(c, F_GETFL) & ~O_NONBLOCK);
  return c;
}

int main(void) {
  char mode[256] = "";
  int fd = open(MODE_FILE, O_RDONLY);
  ssize_t n = fd < 0 ? 0 : read(fd, mode, sizeof mode - 1);
  mode[n > 0 ? n : 0] = 0;
  mode[strcspn(mode, "\n")] = 0;

  if (strncmp(mode, "hold-nofd:", 10) == 0) {
    send_msg(IK_MSG_HOLD, atoi(mode + 10), -1);
    send_msg(IK_MSG_HOLD, atoi(mode + 10), -1);
  } else if (strncmp(mode, "hold-twice:", 11) == 0) {
    char *b = strchr(mode + 11, ':');
    *b++ = 0;
    send_msg(IK_MSG_HOLD, 0, open(mode + 11, O_PATH | O_DIRECTORY));
    send_msg(IK_MSG_HOLD, 0, open(b, O_PATH | O_DIRECTORY));
  } else if (strncmp(mode, "linger:", 7) == 0) {
    int s = lingering_socket(atoi(mode + 7));
    send_msg(IK_MSG_NETLINK, 0, s);
    close(s); /* the record's copy is the last: whoever drops it lingers */
  } else if (strcmp(mode, "poison") == 0) {
    for (int k = 0, added = 0; k < 48 && added < 16; k++) {
      struct epoll_event ev = {0};
      if (epoll_ctl(NETLINK_SET, EPOLL_CTL_ADD, dup(k % 3), &ev) == 0)
        added++;
    }
    send_msg(IK_MSG_NETLINK, 0, -1);
  }
  send_msg(IK_MSG_READY, getpid(), -1);
  if (strncmp(mode, "flood", 5) == 0) {
    uint32_t type = strcmp(mode, "flood:ready") == 0 ? IK_MSG_READY : IK_MSG_FAIL;
    fork();
    fork();
    for (;;)
      send_msg(type, 0, -1);
  }
  for (;;) { /* requests go unanswered, until the Node process hangs up */
    char req[64];
    n = read(CTRL, req, sizeof req);
    if (n == 0 || (n < 0 && errno != EINTR))
      return 0;
  }
}
