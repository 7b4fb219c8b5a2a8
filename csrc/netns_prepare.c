#include "netns_prepare.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ik_plan.h"

/* Writes `v` in decimal at `p`; returns the end. */
static char *put_number(char *p, unsigned long v) {
  char tmp[24];
  int n = 0;
  do
    tmp[n++] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  while (n > 0)
    *p++ = tmp[--n];
  return p;
}

/* tcp_rmem is "min default max": keeps min and max, lowers the default. */
static int small_tcp_rcvbuf(int *syscall) {
  int fd = open("/proc/sys/net/ipv4/tcp_rmem", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    /* A kernel without IPv4 has no TCP to tune. */
    if (errno == ENOENT)
      return 0;
    *syscall = IK_SC_OPEN;
    return -1;
  }
  char buf[96];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  if (n <= 0) {
    if (n == 0)
      errno = EIO;
    *syscall = IK_SC_READ;
    close(fd);
    return -1;
  }
  unsigned long v[3] = {0, 0, 0};
  int k = 0;
  for (ssize_t i = 0; i < n && k < 3; i++) {
    if (buf[i] >= '0' && buf[i] <= '9')
      v[k] = v[k] * 10 + (unsigned long)(buf[i] - '0');
    else if (i > 0 && buf[i - 1] >= '0' && buf[i - 1] <= '9')
      k++;
  }
  int r = 0;
  if (v[1] > IK_TCP_RCVBUF_DEFAULT) {
    /* The default may not be below the minimum. */
    unsigned long def = v[0] > IK_TCP_RCVBUF_DEFAULT ? v[0] : IK_TCP_RCVBUF_DEFAULT;
    char out[80];
    char *p = put_number(out, v[0]);
    *p++ = ' ';
    p = put_number(p, def);
    *p++ = ' ';
    p = put_number(p, v[2] > def ? v[2] : def);
    if (pwrite(fd, out, (size_t)(p - out), 0) != p - out) {
      *syscall = IK_SC_PWRITE;
      r = -1;
    }
  }
  int saved = errno;
  close(fd);
  errno = saved;
  return r;
}

int ik_netns_prepare(int *syscall) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    *syscall = IK_SC_SOCKET;
    return -1;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  int r = ioctl(s, SIOCGIFFLAGS, &ifr);
  if (r < 0) {
    *syscall = IK_SC_IOCTL;
  } else if ((ifr.ifr_flags & IFF_UP) == 0) {
    /* Fresh: tuned before lo is up (nothing can connect before that). */
    r = small_tcp_rcvbuf(syscall);
    if (r == 0) {
      ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
      r = ioctl(s, SIOCSIFFLAGS, &ifr);
      if (r < 0)
        *syscall = IK_SC_IOCTL;
    }
  }
  int saved = errno;
  close(s);
  errno = saved;
  return r;
}
