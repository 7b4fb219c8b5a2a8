/* Starting init without fork()ing Node.
 *
 * fork() copies the page tables of Node's whole heap: measured here, +0.5 ms
 * at 44 MiB RSS and +4.4 ms at 300 MiB. clone(CLONE_VM | CLONE_VFORK) on a
 * private stack (how posix_spawn works) costs the same at any heap size: the
 * child borrows our memory until it execs init, while this thread waits.
 *
 * The child shares our memory, so between clone and exec it only makes raw
 * syscalls on memory prepared before the clone: no malloc, no locks, no
 * stdio. All signals are blocked around the clone (other threads may still
 * run Node's handlers; ours must not run on the child's stack), and the
 * child resets dispositions 1..31 before unblocking (libuv does the same).
 */
#define _GNU_SOURCE
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compat.h"
#include "cgroup_join.h"
#include "fds.h"

#define CHILD_STACK_SIZE (64 * 1024)
#define N_FIXED_FDS 7 /* 0-2 stdio, 3 plan, 4 control socket, 5 netlink set, 6 init binary */

/* One stack per calling thread: CLONE_VFORK keeps the thread in clone()
 * until the child has left the stack by exec or exit. */
static __thread void *child_stack;

static char *get_stack_top(void) {
  if (child_stack == NULL) {
    void *s = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (s == MAP_FAILED)
      return NULL;
    child_stack = s;
  }
  return (char *)child_stack + CHILD_STACK_SIZE;
}

static int child_main(void *arg) {
  struct ik_spawn_args *a = arg;
  int src[N_FIXED_FDS] = {a->stdio[0], a->stdio[1], a->stdio[2], a->plan_fd, a->ctrl_fd, a->netlink_set_fd, a->init_fd};
  char *const init_argv[] = {(char *)a->argv0, NULL};
  static char *const init_envp[] = {NULL};

  for (int sig = 1; sig < 32; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      signal(sig, SIG_DFL);

  /* Until init (or the zygote) is running and watching its socket. PDEATHSIG
   * fires when the *thread* that cloned us exits (bubblewrap #692), so the
   * zygote clears it again and init relies on its control socket hanging
   * up, which does not depend on threads. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
    goto fail;
  if (a->parent_pidfd >= 0) {
    struct pollfd p = {a->parent_pidfd, POLLIN, 0};
    if (poll(&p, 1, 0) > 0) /* the parent died before PDEATHSIG was armed */
      _exit(1);
  }

  /* Into the container's cgroups before anything else runs. (This path
   * clones with CLONE_VM, which clone3 could only do on a stack of our own
   * making; joining by write puts init there before its first instruction
   * all the same.) */
  if (a->cgroup != NULL && ik_cgroup_join(a->cgroup->join_fds, a->cgroup->n_join) < 0) {
    a->failed = "write cgroup.procs";
    goto fail;
  }
  if (a->netns_fd >= 0 && setns(a->netns_fd, CLONE_NEWNET) < 0)
    goto fail;

  if (ik_place_fds(src, N_FIXED_FDS) < 0)
    goto fail;
  /* Exec'ing an ELF binary from a close-on-exec fd is fine; init never sees it. */
  if (fcntl(6, F_SETFD, FD_CLOEXEC) < 0)
    goto fail;

  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  syscall(SYS_execveat, 6, "", init_argv, init_envp, AT_EMPTY_PATH);
fail:
  a->err = errno ? errno : EINVAL;
  _exit(127);
}

int ik_spawn(unsigned long ns_flags, struct ik_spawn_args *a, int *pidfd_out) {
  char *stack_top = get_stack_top();
  if (stack_top == NULL)
    return -errno;
  a->err = 0;
  a->failed = NULL;
  int pidfd = -1;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  /* We learn of init's exit by pidfd. (Exit signal 0 would not help: execve
   * resets it to SIGCHLD, which libuv's handler, if any, shrugs off: it only
   * waits for its own pids.) */
  int pid = clone(child_main, stack_top,
                  (int)(ns_flags | CLONE_VM | CLONE_VFORK | CLONE_PIDFD), a, &pidfd);
  int saved = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (pid < 0)
    return -saved;
  if (a->err != 0) {
    siginfo_t si;
    while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | __WALL) < 0 && errno == EINTR)
      ;
    close(pidfd);
    return -a->err;
  }
  *pidfd_out = pidfd;
  return pid;
}

static int probe_child(void *arg) {
  unsigned long flags = *(unsigned long *)arg;
  *(unsigned long *)arg = unshare((int)flags) < 0 ? (unsigned long)errno : 0;
  _exit(0);
}

int ik_probe_unshare(unsigned long flags) {
  char *stack_top = get_stack_top();
  if (stack_top == NULL)
    return errno;
  volatile unsigned long arg = flags;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int pid = clone(probe_child, stack_top, CLONE_VM | CLONE_VFORK,
                  (void *)&arg);
  int saved = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (pid < 0)
    return saved;
  while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
    ;
  return (int)arg;
}
