#include "epoll_entries.h"

#include <string.h>
#include <unistd.h>

long ik_epoll_fdinfo(int fdinfo, char *buf, size_t size) {
  if (fdinfo < 0)
    return -1;
  size_t len = 0;
  ssize_t n = 0;
  while (len < size - 1 && (n = read(fdinfo, buf + len, size - 1 - len)) > 0)
    len += (size_t)n;
  close(fdinfo);
  if (n < 0 || len == size - 1)
    return -1;
  buf[len] = 0;
  return (long)len;
}

long ik_epoll_entries(int fdinfo) {
  /* "pos: flags: mnt_id: ino:" then one "tfd: ..." line (~100 bytes) per entry. */
  char buf[8192];
  if (ik_epoll_fdinfo(fdinfo, buf, sizeof buf) < 0)
    return -1;
  long count = 0;
  for (const char *at = buf; (at = strstr(at, "tfd:")) != NULL; at += 4)
    count++;
  return count;
}
