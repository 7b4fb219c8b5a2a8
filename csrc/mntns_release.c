#define _GNU_SOURCE
#include "mntns_release.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "quiet_thread.h"

/* fds waiting to be closed. A full queue (hundreds of containers ending at
 * once while the thread is held up) closes inline: slower, never lost. */
#define QUEUE_SIZE 256

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queued = PTHREAD_COND_INITIALIZER;
static int queue[QUEUE_SIZE];
static int count;
static int started;
static int broken; /* the thread could not start: close inline */

int ik_mntns_hold(int pid) {
  char path[48];
  snprintf(path, sizeof path, "/proc/%d/ns/mnt", pid);
  return open(path, O_RDONLY | O_CLOEXEC);
}

static void *closer(void *arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&lock);
    while (count == 0)
      pthread_cond_wait(&queued, &lock);
    int fd = queue[--count];
    pthread_mutex_unlock(&lock);
    close(fd); /* the namespace's unmount and grace period happen here */
  }
  return NULL;
}

void ik_release_later(int fd) {
  if (fd < 0)
    return;
  pthread_mutex_lock(&lock);
  if (!started && !broken) {
    if (ik_quiet_thread(closer) == 0)
      started = 1;
    else
      broken = 1;
  }
  if (!broken && count < QUEUE_SIZE) {
    queue[count++] = fd;
    pthread_cond_signal(&queued);
    fd = -1;
  }
  pthread_mutex_unlock(&lock);
  if (fd >= 0)
    close(fd);
}
