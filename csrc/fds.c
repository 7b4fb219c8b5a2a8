#include "fds.h"

#include <fcntl.h>
#include <unistd.h>

#include "compat.h"

int ik_place_fds(int *src, int n) {
  for (int i = 0; i < n; i++) {
    if (src[i] != i && src[i] < n) {
      int fd = fcntl(src[i], F_DUPFD_CLOEXEC, n);
      if (fd < 0)
        return -1;
      src[i] = fd;
    }
  }
  for (int i = 0; i < n; i++) {
    if (src[i] == i) {
      if (fcntl(i, F_SETFD, 0) < 0)
        return -1;
    } else if (dup2(src[i], i) < 0) {
      return -1;
    }
  }
  if (ik_close_range((unsigned)n, ~0u, 0) < 0) {
    /* Before Linux 5.9: close what could be open. */
    for (int fd = n; fd < 65536; fd++)
      close(fd);
  }
  return 0;
}
