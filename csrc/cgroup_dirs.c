#define _GNU_SOURCE
#include "cgroup_dirs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DIRS 128

struct entry {
  char *path; /* no trailing slash */
  size_t len;
  int fd;
};

/* Entries are written once, before `count` (release) publishes them; a
 * reader (any thread, no lock) sees only complete ones (acquire). */
static struct entry dirs[MAX_DIRS];
static int count;
static pthread_mutex_t add_lock = PTHREAD_MUTEX_INITIALIZER;

int ik_cgroup_dirs_add(const char *dir) {
  size_t len = strlen(dir);
  while (len > 1 && dir[len - 1] == '/')
    len--;
  if (len == 0 || dir[0] != '/')
    return -EINVAL;
  int r = 0;
  pthread_mutex_lock(&add_lock);
  int n = __atomic_load_n(&count, __ATOMIC_RELAXED);
  for (int i = n - 1; i >= 0; i--) {
    if (dirs[i].len != len || memcmp(dirs[i].path, dir, len) != 0)
      continue;
    /* Held already, unless that directory was removed and the path made
     * again: then a new entry, found first (newest first). The old fd
     * stays open: another thread may be using it. */
    struct stat held, now;
    if (fstat(dirs[i].fd, &held) == 0 && stat(dirs[i].path, &now) == 0 && held.st_dev == now.st_dev && held.st_ino == now.st_ino)
      goto out;
    break;
  }
  if (n == MAX_DIRS) {
    r = -ENOSPC;
    goto out;
  }
  char *copy = strndup(dir, len);
  if (!copy) {
    r = -ENOMEM;
    goto out;
  }
  int fd = open(copy, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    r = -errno;
    free(copy);
    goto out;
  }
  dirs[n].path = copy;
  dirs[n].len = len;
  dirs[n].fd = fd;
  __atomic_store_n(&count, n + 1, __ATOMIC_RELEASE);
out:
  pthread_mutex_unlock(&add_lock);
  return r;
}

int ik_cgroup_dir_for(const char *path, const char **rel) {
  int n = __atomic_load_n(&count, __ATOMIC_ACQUIRE);
  for (int i = n - 1; i >= 0; i--) {
    const struct entry *e = &dirs[i];
    if (strncmp(path, e->path, e->len) == 0 && path[e->len] == '/' && path[e->len + 1] != '\0') {
      *rel = path + e->len + 1;
      return e->fd;
    }
  }
  *rel = path;
  return AT_FDCWD;
}

int ik_cgroup_dirs_fds(int *out, int max) {
  int n = __atomic_load_n(&count, __ATOMIC_ACQUIRE);
  for (int i = 0; i < n && i < max; i++)
    out[i] = dirs[i].fd;
  return n;
}
