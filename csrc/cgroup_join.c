#include "cgroup_join.h"

#include <errno.h>
#include <unistd.h>

int ik_cgroup_join(const int *procs_fds, int n) {
  for (int i = 0; i < n; i++) {
    ssize_t w;
    do {
      w = write(procs_fds[i], "0", 1);
    } while (w < 0 && errno == EINTR);
    if (w < 0)
      return -1;
  }
  return 0;
}
