#define _GNU_SOURCE
#include "netns_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include "netns_prepare.h"
#include "quiet_thread.h"

#define POOL_SIZE 2

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wanted = PTHREAD_COND_INITIALIZER;
static int pool[POOL_SIZE];
static int count;
static int started;
static int broken; /* creation failed for good (no permission, no netns): stop */

/* Makes a namespace, prepared (netns_prepare.h), without leaving this
 * thread in it: while the thread is in it, /proc/sys/net is that one's.
 * Returns its fd, or -1 with *fatal set when this thread must make no more
 * (no permission, no network namespaces, stuck in the wrong one); a lack
 * of fds or memory is not fatal: the next refill tries again. */
static int make_netns(int *fatal) {
  *fatal = 0;
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) {
    *fatal = errno != EMFILE && errno != ENFILE && errno != ENOMEM;
    return -1;
  }
  if (unshare(CLONE_NEWNET) < 0) {
    *fatal = errno != ENOMEM && errno != ENOSPC; /* ENOSPC: user.max_net_namespaces */
    close(self);
    return -1;
  }
  int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int sc;
  if (fd < 0) {
    *fatal = errno != EMFILE && errno != ENFILE && errno != ENOMEM;
  } else if (ik_netns_prepare(&sc) < 0) {
    *fatal = errno != EMFILE && errno != ENFILE && errno != ENOMEM && errno != ENOBUFS;
    close(fd);
    fd = -1;
  }
  if (setns(self, CLONE_NEWNET) < 0) {
    /* Stuck in the wrong namespace: this thread must make no more. */
    if (fd >= 0)
      close(fd);
    fd = -1;
    *fatal = 1;
  }
  close(self);
  return fd;
}

static void *filler(void *arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&lock);
    while (count >= POOL_SIZE)
      pthread_cond_wait(&wanted, &lock);
    pthread_mutex_unlock(&lock);
    int fatal;
    int fd = make_netns(&fatal);
    pthread_mutex_lock(&lock);
    if (fd < 0 && fatal) {
      broken = 1;
      pthread_mutex_unlock(&lock);
      return NULL;
    }
    if (fd < 0) {
      /* Out of fds or memory for now (a review saw one full fd table stop
       * the pool for good): wait for the next start's refill, not a spin. */
      pthread_cond_wait(&wanted, &lock);
    } else {
      pool[count++] = fd;
    }
    pthread_mutex_unlock(&lock);
  }
}

int ik_netns_take(void) {
  pthread_mutex_lock(&lock);
  int fd = count > 0 ? pool[--count] : -1;
  pthread_mutex_unlock(&lock);
  return fd;
}

void ik_netns_refill(void) {
  pthread_mutex_lock(&lock);
  if (!started && !broken) {
    if (ik_quiet_thread(filler) == 0)
      started = 1;
    else
      broken = 1;
  }
  if (count < POOL_SIZE)
    pthread_cond_signal(&wanted);
  pthread_mutex_unlock(&lock);
}
