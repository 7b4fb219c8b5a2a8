#define _GNU_SOURCE
#include "netlink_ledger.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "epoll_entries.h"
#include "quiet_thread.h"


struct kept {
  int fd;
  int count; /* at the last count: it can only have fallen since */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct kept *kept;
static int n_kept, cap_kept;
static int total; /* the sum of kept[].count, plus `lost` */
static int lost;  /* sockets of sets we had no room to keep */
static pthread_cond_t kept_one;
static int watching; /* 1: the watcher runs; -1: it could not start */
static int fresh;    /* a set was kept since the watcher last looked */

/* Entries in epoll set `set`; when that cannot be read, the most a set
 * ever holds. */
static int entries(int set) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", set);
  long count = ik_epoll_entries(open(path, O_RDONLY | O_CLOEXEC));
  return count < 0 || count > IK_NETLINK_SOCKETS_MAX ? IK_NETLINK_SOCKETS_MAX : (int)count;
}

/* Recounts every kept set, closing the empty ones. Under `lock`. */
static void recount(void) {
  int j = 0;
  total = lost;
  for (int i = 0; i < n_kept; i++) {
    int count = entries(kept[i].fd);
    if (count == 0) {
      close(kept[i].fd);
      continue;
    }
    kept[j].fd = kept[i].fd;
    kept[j].count = count;
    total += count;
    j++;
  }
  n_kept = j;
}

/* While sets are kept: recounts them 10 ms after one was kept, then at
 * doubling intervals up to 1 s, so that a set is closed (and the count
 * falls) soon after its sockets are, whether or not another container
 * starts or ends. Sockets in a Unix garbage cycle go 4-7 ms after their
 * container; a holder's when it closes them. */
static void *watch(void *arg) {
  (void)arg;
  long delay_ms = 10;
  pthread_mutex_lock(&lock);
  for (;;) {
    while (n_kept == 0)
      pthread_cond_wait(&kept_one, &lock);
    if (fresh) {
      fresh = 0;
      delay_ms = 10;
    }
    struct timespec at;
    clock_gettime(CLOCK_MONOTONIC, &at);
    at.tv_sec += delay_ms / 1000;
    at.tv_nsec += (delay_ms % 1000) * 1000000L;
    if (at.tv_nsec >= 1000000000L) {
      at.tv_sec++;
      at.tv_nsec -= 1000000000L;
    }
    if (pthread_cond_timedwait(&kept_one, &lock, &at) != 0 && !fresh) {
      recount();
      delay_ms = delay_ms >= 500 ? 1000 : 2 * delay_ms;
    }
  }
  return NULL;
}

/* Under `lock`, once a set is kept. */
static void wake_watcher(void) {
  if (watching == 0) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&kept_one, &attr);
    pthread_condattr_destroy(&attr);
    /* Without the thread, sets are recounted as containers end. */
    watching = ik_quiet_thread(watch) == 0 ? 1 : -1;
  }
  fresh = 1;
  if (watching > 0)
    pthread_cond_signal(&kept_one);
}

void ik_netlink_ledger_keep(int set) {
  pthread_mutex_lock(&lock);
  if (n_kept > 0)
    recount(); /* only while sockets of ended containers are open */
  int count = set < 0 ? 0 : entries(set);
  if (count > 0 && n_kept == cap_kept) {
    int want = cap_kept == 0 ? 16 : 2 * cap_kept;
    struct kept *more = realloc(kept, (size_t)want * sizeof *kept);
    if (more != NULL) {
      kept = more;
      cap_kept = want;
    }
  }
  if (count > 0 && n_kept < cap_kept) {
    kept[n_kept].fd = set;
    kept[n_kept].count = count;
    n_kept++;
    total += count;
    wake_watcher();
  } else if (set >= 0) {
    /* Empty; or no memory for the list: then its sockets count for good
     * (never more than the rules allow). */
    lost += count;
    total += count;
    close(set);
  }
  pthread_mutex_unlock(&lock);
}

int ik_netlink_ledger_count(int exact) {
  pthread_mutex_lock(&lock);
  if (total >= IK_NETLINK_ORPHANS_MAX || (exact && n_kept > 0))
    recount();
  int count = total;
  pthread_mutex_unlock(&lock);
  return count;
}
