#define _GNU_SOURCE
#include "netlink_ledger.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "epoll_entries.h"
#include "quiet_thread.h"

/* Most entries read from a set: more than a set of ours ever holds. */
#define ENTRIES_MAX 80


struct kept {
  int fd;
  int count; /* at the last count: it can only have fallen since */
  int n_ours;
  unsigned long ours[ENTRIES_MAX]; /* inodes of its sockets that are files of ours */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct kept *kept;
static int n_kept, cap_kept;
static int total; /* the sum of kept[].count, plus `lost` */
static int lost;  /* sockets of sets we had no room to keep */
static pthread_cond_t kept_one;
static int watching; /* 1: the watcher runs; -1: it could not start */
static int fresh;    /* a set was kept since the watcher last looked */

/* The device of sockfs, which every socket's inode is on: 0 until known,
 * -1 when it cannot be (then every file counts as a socket). Under `lock`. */
static long long sockfs;

static int on_sockfs(unsigned long sdev) {
  if (sockfs == 0) {
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct stat st;
    sockfs = s >= 0 && fstat(s, &st) == 0 ? (long long)st.st_dev : -1;
    if (s >= 0)
      close(s);
  }
  /* fdinfo shows the kernel's dev_t: major << 20 | minor. */
  return sockfs < 0 || (major((dev_t)sockfs) == (sdev >> 20) && minor((dev_t)sockfs) == (sdev & 0xfffff));
}

/* The inodes of the sockets among the entries of epoll set `set` (its
 * /proc fdinfo: one "tfd: … ino:<hex> sdev:<hex>" line, ~100 bytes, per
 * entry), at most ENTRIES_MAX; how many, or -1 when it cannot be read.
 * Other files do not count: a compromised init could put any in the set
 * (the caller's own stdout, open for good). */
static int set_sockets(int set, unsigned long *ino) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", set);
  char buf[8192];
  if (ik_epoll_fdinfo(open(path, O_RDONLY | O_CLOEXEC), buf, sizeof buf) < 0)
    return -1;
  int n = 0;
  for (const char *at = buf; (at = strstr(at, "tfd:")) != NULL; at += 4) {
    const char *i = strstr(at, " ino:"), *d = strstr(at, " sdev:"), *end = strchr(at, '\n');
    unsigned long inode, sdev;
    if (i == NULL || d == NULL || (end != NULL && d > end) || sscanf(i, " ino:%lx", &inode) != 1 ||
        sscanf(d, " sdev:%lx", &sdev) != 1 || n == ENTRIES_MAX)
      return -1;
    if (on_sockfs(sdev))
      ino[n++] = inode;
  }
  return n;
}

/* Which of the sockets ino[0..n) this process has open itself, into
 * ours[]; how many. A container's netlink socket never is (nothing it
 * sends reaches our fd table: the addon drops what init sends), the
 * caller's files init could add are (a journald socket as stdout). Only
 * for a set that still has sockets once its container ended: rare. */
static int ours_of(const unsigned long *ino, int n, unsigned long *ours) {
  int k = 0;
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL)
    return 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && k < n) {
    struct stat st;
    if (e->d_name[0] == '.' || fstat(atoi(e->d_name), &st) < 0 || !S_ISSOCK(st.st_mode))
      continue;
    for (int i = 0; i < n; i++)
      if (ino[i] == (unsigned long)st.st_ino) {
        ours[k++] = ino[i];
        break;
      }
  }
  closedir(d);
  return k;
}

/* How many of the sockets ino[0..n) are not ours[0..n_ours), at most a
 * set's most; n < 0 (the set could not be read) counts as the most. */
static int count_of(const unsigned long *ino, int n, const unsigned long *ours, int n_ours) {
  int count = n < 0 ? IK_NETLINK_SOCKETS_MAX : 0;
  for (int i = 0; i < n; i++) {
    int mine = 0;
    for (int j = 0; j < n_ours && !mine; j++)
      mine = ino[i] == ours[j];
    count += !mine;
  }
  return count > IK_NETLINK_SOCKETS_MAX ? IK_NETLINK_SOCKETS_MAX : count;
}

/* The netlink sockets of a kept set. */
static int entries(const struct kept *k) {
  unsigned long ino[ENTRIES_MAX];
  return count_of(ino, set_sockets(k->fd, ino), k->ours, k->n_ours);
}

/* Recounts every kept set, closing the empty ones. Under `lock`. */
static void recount(void) {
  int j = 0;
  total = lost;
  for (int i = 0; i < n_kept; i++) {
    int count = entries(&kept[i]);
    if (count == 0) {
      close(kept[i].fd);
      continue;
    }
    if (j != i)
      kept[j] = kept[i];
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
  unsigned long ino[ENTRIES_MAX], ours[ENTRIES_MAX];
  int n = set < 0 ? 0 : set_sockets(set, ino);
  int n_ours = n > 0 ? ours_of(ino, n, ours) : 0;
  int count = set < 0 ? 0 : count_of(ino, n, ours, n_ours);
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
    kept[n_kept].n_ours = n_ours;
    memcpy(kept[n_kept].ours, ours, (size_t)n_ours * sizeof ours[0]);
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
