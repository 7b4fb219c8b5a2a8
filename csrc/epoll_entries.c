#include "epoll_entries.h"

#include <string.h>
#include <unistd.h>

long ik_epoll_entries(int fdinfo) {
  if (fdinfo < 0)
    return -1;
  /* "pos: flags: mnt_id: ino:" then one "tfd: ..." line (~100 bytes) per entry. */
  char buf[8192];
  size_t len = 0;
  ssize_t n = 0;
  while (len < sizeof buf - 1 && (n = read(fdinfo, buf + len, sizeof buf - 1 - len)) > 0)
    len += (size_t)n;
  close(fdinfo);
  if (n < 0 || len == sizeof buf - 1)
    return -1;
  buf[len] = 0;
  long count = 0;
  for (const char *at = buf; (at = strstr(at, "tfd:")) != NULL; at += 4)
    count++;
  return count;
}
