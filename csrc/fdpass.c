#define _GNU_SOURCE
#include "fdpass.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef union {
  struct cmsghdr h;
  char buf[CMSG_SPACE(IK_FDPASS_MAX * sizeof(int))];
} control_buf;

/* Room for as many fds as one message can carry (the kernel's SCM_MAX_FD):
 * fds that do not fit are dropped by the kernel, whose last close of them
 * then runs in the receiver's thread, where a lingering socket blocks. */
#define RECV_FDS_MAX 253

typedef union {
  struct cmsghdr h;
  char buf[CMSG_SPACE(RECV_FDS_MAX * sizeof(int))];
} recv_control_buf;

static void close_fd(int fd) { close(fd); }

ssize_t ik_send_fds(int sock, const void *buf, size_t len, const int *fds, int nfds) {
  struct iovec iov = {(void *)buf, len};
  struct msghdr msg;
  control_buf cm;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (nfds > 0) {
    if (nfds > IK_FDPASS_MAX)
      return errno = EINVAL, -1;
    memset(&cm, 0, sizeof cm);
    msg.msg_control = cm.buf;
    msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
  }
  ssize_t n;
  do {
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n;
}

ssize_t ik_recv_fds(int sock, void *buf, size_t len, int *fds, int max, int *nfds, int flags) {
  return ik_recv_fds_drop(sock, buf, len, fds, max, nfds, flags, close_fd);
}

ssize_t ik_recv_fds_drop(int sock, void *buf, size_t len, int *fds, int max, int *nfds, int flags,
                         void (*drop)(int)) {
  struct iovec iov = {buf, len};
  struct msghdr msg;
  recv_control_buf cm;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cm.buf;
  msg.msg_controllen = sizeof cm.buf;
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags);
  } while (n < 0 && errno == EINTR);
  *nfds = 0;
  if (n < 0)
    return n;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
      continue;
    int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int j = 0; j < k; j++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + j * sizeof(int), sizeof fd);
      if (*nfds < max)
        fds[(*nfds)++] = fd;
      else
        drop(fd);
    }
  }
  if (msg.msg_flags & MSG_CTRUNC) {
    for (int j = 0; j < *nfds; j++)
      drop(fds[j]);
    *nfds = -1;
  }
  return n;
}
