/* csrc/owner_marks.c's exit() handler on its own (owner-marks.test.ts):
 * owner_marks_exit MODE DIR, marks made in DIR.
 *   plain   - holds a mark and calls exit(): the mark's directory must go.
 *   handler - exit() from a signal handler that interrupted ik_mark_hold()
 *             while it held the marks' mutex (a gc() stand-in holds the
 *             second mark LOCK_EX, so it waits in its flock loop): the
 *             process must still end (it hung for good).
 *   fork    - a fork()ed child calls exit(): the owner's mark must stay.
 *   newpid  - the owner is pid 1 of a pid namespace of its own, and a child
 *             cloned into a new pid namespace (pid 1 there too) calls
 *             exit(): the owner's mark must stay (it went). Needs root.
 *   emfile  - ik_mark_hold() with the fd table full: it fails (EMFILE),
 *             and leaves no mark behind (the one it made stayed, in no
 *             list, for a gc() to find).
 * Prints "mark after the child: present|gone" for the last two. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "owner_marks.h"

static char mark_a[4096], mark_b[4096];

static void on_alarm(int sig) {
  (void)sig;
  exit(0); /* not async-signal-safe, but what such a handler does */
}

static int child_exit(void *arg) {
  (void)arg;
  exit(0);
}

static int hold_then_child(int newpid) {
  if (ik_mark_hold(mark_a) < 0) {
    perror("ik_mark_hold");
    return 2;
  }
  pid_t pid;
  if (newpid) {
    static char stack[64 * 1024];
    pid = clone(child_exit, stack + sizeof stack, CLONE_NEWPID | SIGCHLD, NULL);
  } else {
    pid = fork();
    if (pid == 0) child_exit(NULL);
  }
  if (pid < 0) {
    perror("fork/clone");
    return 2;
  }
  waitpid(pid, NULL, 0);
  struct stat st;
  printf("owner pid %d; mark after the child: %s\n", (int)getpid(), stat(mark_a, &st) == 0 ? "present" : "gone");
  fflush(stdout);
  _exit(0);
}

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  const char *mode = argv[1];
  snprintf(mark_a, sizeof mark_a, "%s/a.owner", argv[2]);
  snprintf(mark_b, sizeof mark_b, "%s/b.owner", argv[2]);
  if (strcmp(mode, "plain") == 0) {
    if (ik_mark_hold(mark_a) < 0) return 2;
    exit(0);
  }
  if (strcmp(mode, "handler") == 0) {
    if (ik_mark_hold(mark_a) < 0) return 2; /* arms the exit() handler */
    if (mkdir(mark_b, 0700) < 0) return 2;
    int gc = open(mark_b, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (gc < 0 || flock(gc, LOCK_EX) < 0) return 2;
    signal(SIGALRM, on_alarm);
    struct itimerval t = {{0, 0}, {0, 20000}};
    setitimer(ITIMER_REAL, &t, NULL);
    ik_mark_hold(mark_b); /* waits up to 100 ms for the gc(), mutex held */
    return 3; /* the signal came too late */
  }
  if (strcmp(mode, "emfile") == 0) {
    struct rlimit rl = {16, 16};
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) return 2;
    while (open("/dev/null", O_RDONLY) >= 0)
      ;
    int r = ik_mark_hold(mark_a);
    struct stat st;
    printf("hold: %s; mark: %s\n", r == -EMFILE ? "EMFILE" : r < 0 ? strerror(-r) : "held", stat(mark_a, &st) == 0 ? "present" : "gone");
    fflush(stdout);
    _exit(0);
  }
  if (strcmp(mode, "fork") == 0) return hold_then_child(0);
  if (strcmp(mode, "newpid") == 0) {
    if (unshare(CLONE_NEWPID) < 0) {
      perror("unshare");
      return 2;
    }
    pid_t pid = fork(); /* pid 1 of the new namespace */
    if (pid < 0) return 2;
    if (pid == 0) return hold_then_child(1);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
  }
  return 2;
}
