#define _GNU_SOURCE
#include "owner_marks.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_MARKS 64

static struct {
  char *path;
  int fd;
} marks[MAX_MARKS];
static int count;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t exit_hook_once = PTHREAD_ONCE_INIT;
static pid_t owner_pid;
/* The owner's pid namespace (/proc/self/ns/pid), when /proc could say. */
static dev_t owner_pidns_dev;
static ino_t owner_pidns_ino;
static int owner_pidns_known;

static void release_locked(const char *path, int remove);

/* Whether the caller is the process that made the marks. The pid alone
 * cannot say: a child cloned into a new pid namespace is pid 1 there, as
 * the owner is when it is a container's first process (Node often is). */
static int is_owner(void) {
  if (getpid() != owner_pid) return 0;
  if (!owner_pidns_known) return 1;
  struct stat st;
  return stat("/proc/self/ns/pid", &st) == 0 && st.st_dev == owner_pidns_dev && st.st_ino == owner_pidns_ino;
}

/* At the process's exit(), whichever thread made the marks: the main
 * thread's exit hook (lib/cgroup/owner.ts) has let them go already when it
 * ran, but a process whose groups were all made by worker threads has no
 * such hook (a worker's ends with the worker), and its marks' directories
 * would stay for gc(). Only in the process that made them: a child forked
 * or cloned without exec that calls exit() must not take its parent's
 * marks. The lock is waited for a bounded time only: exit() called from a
 * signal handler that interrupted ik_mark_hold() on this very thread (which
 * may hold it 100 ms, waiting out a gc()) would otherwise wait for good,
 * and no other thread holds it longer. Not had, the marks stay for gc()
 * (their locks go with the process), as before this handler. */
static void release_at_exit(void) {
  if (!is_owner()) return;
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_nsec += 250 * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  if (pthread_mutex_timedlock(&lock, &until) != 0) return;
  release_locked(NULL, 1);
  pthread_mutex_unlock(&lock);
}

static void hook_exit(void) {
  owner_pid = getpid();
  struct stat st;
  if (stat("/proc/self/ns/pid", &st) == 0) {
    owner_pidns_dev = st.st_dev;
    owner_pidns_ino = st.st_ino;
    owner_pidns_known = 1;
  }
  atexit(release_at_exit);
}

/* mkdir (0700: anyone who could open it could hold a lock on it, and keep a
 * dead owner's groups from gc() for good), open, flock shared; the one
 * locked must still be the one at `path` (a gc() may remove an unlocked
 * mark meanwhile). */
static int open_and_lock(const char *path) {
  int made = mkdir(path, 0700) == 0;
  if (!made && errno != EEXIST) return -errno;
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    /* A full fd table, say: the mark we just made is in no list, and no
     * exit would remove it (the eighteenth review). */
    int err = errno;
    if (made) rmdir(path);
    return -err;
  }
  /* A gc() holds it exclusively for the moment it tests it: wait that out
   * (1 ms at a time, up to 100 ms). */
  for (int i = 0; flock(fd, LOCK_SH | LOCK_NB) < 0; i++) {
    int err = errno;
    if (err != EWOULDBLOCK || i >= 100) {
      close(fd);
      if (made) rmdir(path);
      return -err;
    }
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
  struct stat a, b;
  if (fstat(fd, &a) < 0 || stat(path, &b) < 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
    close(fd);
    return -ESTALE;
  }
  return fd;
}

int ik_mark_hold(const char *path) {
  pthread_mutex_lock(&lock);
  int r = -ENOSPC;
  for (int i = 0; i < count; i++) {
    if (strcmp(marks[i].path, path) == 0) {
      r = marks[i].fd;
      goto out;
    }
  }
  if (count == MAX_MARKS) goto out;
  char *copy = strdup(path);
  if (!copy) {
    r = -ENOMEM;
    goto out;
  }
  r = open_and_lock(path);
  if (r < 0) {
    free(copy);
    goto out;
  }
  marks[count].path = copy;
  marks[count].fd = r;
  count++;
  pthread_once(&exit_hook_once, hook_exit);
out:
  pthread_mutex_unlock(&lock);
  return r;
}

int ik_marks_list(const char **paths, int *fds, int max) {
  pthread_mutex_lock(&lock);
  int n = count;
  for (int i = 0; i < n && i < max; i++) {
    paths[i] = marks[i].path;
    fds[i] = marks[i].fd;
  }
  pthread_mutex_unlock(&lock);
  return n;
}

static void release_locked(const char *path, int remove) {
  for (int i = 0; i < count;) {
    if (path && strcmp(marks[i].path, path) != 0) {
      i++;
      continue;
    }
    close(marks[i].fd);
    if (remove) rmdir(marks[i].path);
    free(marks[i].path);
    marks[i] = marks[--count];
  }
}

void ik_marks_release(const char *path, int remove) {
  pthread_mutex_lock(&lock);
  release_locked(path, remove);
  pthread_mutex_unlock(&lock);
}
