#define _GNU_SOURCE
#include "pidns_kill.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"

#define MAX_ROUNDS 32
#define TREE_MAX 4096 /* processes of one tree held stopped (init's walk has the same bound) */

/* The pids signalled so far: a killed process stays in /proc until it has
 * run its exit and been reaped, which in a starved group can take a while,
 * and is not signalled again. (Its pid cannot go to a new process before
 * it is reaped and the kernel's pid numbers have wrapped around: if that
 * ever happened, init's exit would still end that process.) Open
 * addressing, grown at half full. */
struct pid_set {
  pid_t *slot; /* 0: empty */
  size_t cap;
  size_t n;
};

static int set_has(const struct pid_set *s, pid_t pid) {
  if (s->cap == 0)
    return 0;
  for (size_t i = (size_t)pid & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
    if (s->slot[i] == pid)
      return 1;
    if (s->slot[i] == 0)
      return 0;
  }
}

static void set_put(struct pid_set *s, pid_t pid) {
  if (2 * (s->n + 1) > s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 256;
    pid_t *slot = calloc(cap, sizeof *slot);
    if (slot == NULL)
      return; /* signalled again next round: slower, never missed */
    struct pid_set grown = {slot, cap, 0};
    for (size_t i = 0; i < s->cap; i++)
      if (s->slot[i] != 0)
        set_put(&grown, s->slot[i]);
    free(s->slot);
    *s = grown;
  }
  size_t i = (size_t)pid & (s->cap - 1);
  while (s->slot[i] != 0)
    i = (i + 1) & (s->cap - 1);
  s->slot[i] = pid;
  s->n++;
}

/* The "pid:[inode]" link of `pid`'s pid namespace under the /proc dir
 * `proc`, in `buf`; its length, or -1. */
static ssize_t ns_link(int proc, pid_t pid, char *buf, size_t size) {
  char path[40];
  snprintf(path, sizeof path, "%d/ns/pid", (int)pid);
  ssize_t n = readlinkat(proc, path, buf, size - 1);
  if (n >= 0)
    buf[n] = 0;
  return n;
}

static int same_ns(int proc, pid_t pid, const char *ns, ssize_t len) {
  char link[64];
  return ns_link(proc, pid, link, sizeof link) == len && memcmp(link, ns, (size_t)len) == 0;
}

/* A fresh pass over the /proc dir `proc` (closedir() closes what
 * fdopendir() took, so it gets a duplicate); NULL with errno set. */
static DIR *proc_dir(int proc) {
  int dup_fd = dup(proc);
  if (dup_fd < 0)
    return NULL;
  DIR *d = fdopendir(dup_fd);
  if (d == NULL) {
    int e = errno;
    close(dup_fd);
    errno = e;
    return NULL;
  }
  rewinddir(d);
  return d;
}

/* Opens /proc in `*proc` and reads init's namespace link into `ns`: its
 * length, or -errno (nothing left open). init is our unreaped child, so
 * its pid is its own; the link is its namespace if it is still alive after
 * the read (an exited init has no namespaces left to read). */
static ssize_t open_ns(int init_pidfd, pid_t init_pid, int *proc, char *ns, size_t size) {
  *proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (*proc < 0)
    return -errno;
  ssize_t len = ns_link(*proc, init_pid, ns, size);
  if (len < 0 || ik_pidfd_send_signal(init_pidfd, 0) < 0) {
    int err = len < 0 ? errno : ESRCH;
    close(*proc);
    return -err;
  }
  return len;
}

/* The next process listed in `d` (a pass over /proc) that is in the
 * namespace `ns`, other than init and those in `skip`; 0 at the end. Most
 * of the host's processes are not the container's: this is a first look
 * only, and callers look again once they hold a pidfd. */
static pid_t next_in_ns(DIR *d, int proc, pid_t init_pid, const struct pid_set *skip, const char *ns, ssize_t len) {
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    char *end;
    long pid = strtol(e->d_name, &end, 10);
    if (*end != 0 || pid <= 0 || pid == init_pid || set_has(skip, (pid_t)pid))
      continue;
    if (same_ns(proc, (pid_t)pid, ns, len))
      return (pid_t)pid;
  }
  return 0;
}

/* One pass over /proc: SIGKILL to each process in the namespace `ns` but
 * init and those in `done`. How many were signalled, or -errno. */
static int kill_round(int proc, pid_t init_pid, const char *ns, ssize_t len, struct pid_set *done) {
  DIR *d = proc_dir(proc);
  if (d == NULL)
    return -errno;
  int killed = 0;
  pid_t pid;
  while ((pid = next_in_ns(d, proc, init_pid, done, ns, len)) > 0) {
    int pidfd = ik_pidfd_open(pid);
    if (pidfd < 0)
      continue; /* gone meanwhile (or no fd left: init's exit ends it) */
    /* The pidfd is the process that had this pid when it was opened. If
     * that one is still alive now, the link read below was its own; if it
     * died meanwhile the signal fails, whoever has the pid now. */
    if (same_ns(proc, pid, ns, len) && ik_pidfd_send_signal(pidfd, SIGKILL) == 0) {
      killed++;
      set_put(done, pid);
    }
    close(pidfd);
  }
  closedir(d);
  return killed;
}

int ik_pidns_kill(int init_pidfd, pid_t init_pid, int spare_init) {
  int proc;
  char ns[64];
  ssize_t len = open_ns(init_pidfd, init_pid, &proc, ns, sizeof ns);
  if (len < 0)
    return (int)len;
  int total = 0;
  /* init first (pidns_kill.h says why): its namespace link, read above,
   * still names the others' namespace after it is gone. */
  if (!spare_init && ik_pidfd_send_signal(init_pidfd, SIGKILL) == 0)
    total++;
  struct pid_set done = {NULL, 0, 0};
  for (int round = 0; round < MAX_ROUNDS; round++) {
    int n = kill_round(proc, init_pid, ns, len, &done);
    if (n < 0) {
      if (total == 0)
        total = n;
      break;
    }
    total += n;
    if (n == 0)
      break;
  }
  free(done.slot);
  close(proc);
  return total;
}

/* `pid`'s parent and process group, as host pids (the host's /proc). */
static int read_stat(int proc, pid_t pid, pid_t *ppid, pid_t *pgrp) {
  char path[40], buf[512];
  snprintf(path, sizeof path, "%d/stat", (int)pid);
  int fd = openat(proc, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return -1;
  buf[n] = 0;
  char *rp = strrchr(buf, ')'); /* the command name may hold anything */
  int pp, pg;
  if (rp == NULL || sscanf(rp + 1, " %*c %d %d", &pp, &pg) != 2)
    return -1;
  *ppid = pp;
  *pgrp = pg;
  return 0;
}

/* `pid`'s number in its innermost pid namespace (the last of NSpid), or -1. */
static pid_t inner_pid(int proc, pid_t pid) {
  char path[40], buf[4096];
  snprintf(path, sizeof path, "%d/status", (int)pid);
  int fd = openat(proc, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return -1;
  buf[n] = 0;
  char *line = strstr(buf, "\nNSpid:");
  if (line == NULL)
    return -1;
  char *end = strchr(line + 1, '\n');
  if (end != NULL)
    *end = 0;
  char *last = strrchr(line, '\t');
  return last == NULL ? -1 : (pid_t)atoi(last + 1);
}

/* The tree being stopped: each member's pidfd, and its pid for lookups. */
struct tree {
  int pidfd[TREE_MAX];
  pid_t pid[TREE_MAX];
  size_t n;
  struct pid_set pids;
};

/* Adds `pid` (in the namespace `ns`) to the tree and stops it, if its
 * namespace is still `ns` once its pidfd is open and `want` (when given)
 * still holds of it; 1 if added. */
static int tree_add(struct tree *t, int proc, pid_t pid, const char *ns, ssize_t len,
                    int (*want)(int proc, pid_t pid, const void *arg), const void *arg) {
  if (t->n == TREE_MAX)
    return 0;
  int pidfd = ik_pidfd_open((int)pid);
  if (pidfd < 0)
    return 0;
  /* As in kill_round: alive after these reads, it is the one they read. */
  if (!same_ns(proc, pid, ns, len) || (want != NULL && !want(proc, pid, arg)) ||
      ik_pidfd_send_signal(pidfd, SIGSTOP) < 0) {
    close(pidfd);
    return 0;
  }
  t->pid[t->n] = pid;
  t->pidfd[t->n++] = pidfd;
  set_put(&t->pids, pid);
  return 1;
}

static int is_root(int proc, pid_t pid, const void *arg) {
  return inner_pid(proc, pid) == *(const pid_t *)arg;
}

struct member_arg {
  const struct tree *t;
  pid_t root;
};

/* A child of a member, or in the root's process group (each process init
 * starts leads its own). */
static int is_member(int proc, pid_t pid, const void *arg) {
  const struct member_arg *m = arg;
  pid_t ppid, pgrp;
  return read_stat(proc, pid, &ppid, &pgrp) == 0 && (pgrp == m->root || set_has(&m->t->pids, ppid));
}

/* One pass over /proc adding what `want` takes (init and members skipped);
 * how many were added. */
static int tree_pass(struct tree *t, int proc, pid_t init_pid, const char *ns, ssize_t len,
                     int (*want)(int proc, pid_t pid, const void *arg), const void *arg) {
  DIR *d = proc_dir(proc);
  if (d == NULL)
    return 0;
  int added = 0;
  pid_t pid;
  while ((pid = next_in_ns(d, proc, init_pid, &t->pids, ns, len)) > 0) {
    if (!want(proc, pid, arg))
      continue;
    added += tree_add(t, proc, pid, ns, len, want, arg);
    if (want == is_root && added > 0)
      break;
  }
  closedir(d);
  return added;
}

int ik_pidns_kill_tree(int init_pidfd, pid_t init_pid, pid_t root) {
  int proc;
  char ns[64];
  ssize_t len = open_ns(init_pidfd, init_pid, &proc, ns, sizeof ns);
  if (len < 0)
    return (int)len;
  struct tree *t = calloc(1, sizeof *t);
  if (t == NULL) {
    close(proc);
    return -ENOMEM;
  }
  int killed = 0;
  if (tree_pass(t, proc, init_pid, ns, len, is_root, &root) == 1) {
    struct member_arg m = {t, t->pid[0]};
    /* Stopped, a member forks no more; one forked before its stop is found
     * by the next pass, as its parent is a member by then. */
    int settled = 0;
    for (int pass = 0; pass < MAX_ROUNDS && !settled; pass++)
      settled = tree_pass(t, proc, init_pid, ns, len, is_member, &m) == 0;
    /* A tree larger than we hold, or still growing, is left whole to
     * init's walk, as before: killing part of it would orphan the rest out
     * of the tree init walks from the root. */
    int whole = settled && t->n < TREE_MAX;
    for (size_t i = 0; i < t->n; i++) {
      if (ik_pidfd_send_signal(t->pidfd[i], whole ? SIGKILL : SIGCONT) == 0 && whole)
        killed++;
      close(t->pidfd[i]);
    }
    if (!whole)
      killed = -E2BIG;
  }
  free(t->pids.slot);
  free(t);
  close(proc);
  return killed;
}
