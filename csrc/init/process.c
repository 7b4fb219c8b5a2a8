/* Runs in the payload's own process between fork and exec: limits,
 * credentials and capabilities, working directory, no_new_privs, exec.
 * The child shares init's memory (CLONE_VM), so it only makes syscalls on
 * memory prepared by ik_process_prepare() and reports through p->fail.
 */
#define _GNU_SOURCE
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../compat.h"
#include "oom_guard.h"

#define CHILD_STACK_SIZE (64 * 1024)
#define IK_PATH_BUF 4096

/* One record on a spawned child's report pipe; a full pipe cannot happen
 * (two records at most, far below its size), and a short write is lost. */
static void report(struct ik_proc *p, int32_t kind) {
  if (p->report_fd < 0)
    return;
  struct ik_report r;
  memset(&r, 0, sizeof r);
  r.kind = kind;
  r.exec_ns = p->exec_ns;
  r.fail = p->fail;
  int saved = errno;
  while (write(p->report_fd, &r, sizeof r) < 0 && errno == EINTR)
    ;
  errno = saved;
}

static int fail_with(struct ik_proc *p, uint32_t op, uint32_t sc) {
  p->fail.op = op;
  p->fail.sc = sc;
  p->fail.err = errno;
  p->failed = 1;
  report(p, IK_REPORT_FAIL);
  return -1;
}

int ik_process_prepare(struct ik_proc *p, const struct ik_plan *plan, uint32_t first_op) {
  p->plan = plan;
  p->first_op = first_op;
  p->failed = 0;
  p->report_fd = -1;
  p->parent = getpid();
  uint32_t i;
  for (i = first_op; i < plan->op_count; i++) {
    uint32_t t = plan->ops[i].type;
    if (t == IK_OP_EXEC)
      break;
    if (t != IK_OP_RLIMIT && t != IK_OP_CREDS && t != IK_OP_CHDIR && t != IK_OP_NO_NEW_PRIVS && t != IK_OP_SECCOMP) {
      errno = EINVAL;
      return fail_with(p, i, IK_SC_PLAN);
    }
  }
  if (i >= plan->op_count) {
    errno = EINVAL;
    return fail_with(p, plan->op_count ? plan->op_count - 1 : 0, IK_SC_PLAN);
  }
  p->exec_op = i;
  /* The IK_OP_PROCESS before first_op (ik_plan_validate keeps it to 3 bits). */
  p->own_pipes = first_op > 0 && plan->ops[first_op - 1].type == IK_OP_PROCESS
                     ? (unsigned)plan->ops[first_op - 1].num[1]
                     : 0;
  const struct ik_op *op = &plan->ops[i];
  struct ik_list argv = ik_plan_list(plan, op->num[0]);
  struct ik_list env = ik_plan_list(plan, op->num[1]);
  p->argv = calloc((size_t)argv.count + 1, sizeof(char *));
  p->envp = calloc((size_t)env.count + 1, sizeof(char *));
  p->path_buf = malloc(IK_PATH_BUF);
  if (p->argv == NULL || p->envp == NULL || p->path_buf == NULL) {
    errno = ENOMEM;
    return fail_with(p, i, IK_SC_PLAN);
  }
  for (uint32_t k = 0; k < argv.count; k++)
    p->argv[k] = (char *)ik_plan_str(plan, argv.items[k]);
  for (uint32_t k = 0; k < env.count; k++)
    p->envp[k] = (char *)ik_plan_str(plan, env.items[k]);
  return 0;
}

void ik_process_free(struct ik_proc *p) {
  free(p->argv);
  free(p->envp);
  free(p->path_buf);
  p->argv = p->envp = NULL;
  p->path_buf = NULL;
}

/* Drops to the plan's uid/gid/groups keeping exactly `keep` capabilities in
 * every set; the bounding set goes first, while CAP_SETPCAP is still held. */
static int set_creds(struct ik_proc *p, uint32_t i) {
  const struct ik_op *op = &p->plan->ops[i];
  uid_t uid = (uid_t)(op->num[0] & 0xffffffffu);
  gid_t gid = (gid_t)(op->num[0] >> 32);
  uint64_t keep = op->num[2];
  struct ik_list groups = ik_plan_list(p->plan, op->num[1]);

  for (int cap = 0; cap < 64; cap++) {
    if (keep & (1ull << cap))
      continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
      if (errno == EINVAL)
        break; /* past the kernel's last capability */
      return fail_with(p, i, IK_SC_PRCTL);
    }
  }
  if (uid != 0 && keep != 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    return fail_with(p, i, IK_SC_PRCTL);
  /* The pipes the addon made for this process are root's, mode 0600: give
   * them to the payload so it can reopen them (/dev/stdout,
   * /proc/self/fd/1) as any user. Only those: an fd the caller passed
   * (stdio 'inherit' or a number), its own stdout pipe say, keeps its
   * owner, or the payload could reopen it for reading and read what the
   * Node process writes, after the container too. */
  for (int k = 0; k < 3; k++)
    if (p->own_pipes & (1u << k))
      fchown(k, uid, gid);
  /* Raw syscalls: glibc's wrappers would try to sync other threads. */
  if (syscall(SYS_setgroups, (size_t)groups.count, groups.items) < 0)
    return fail_with(p, i, IK_SC_SETGROUPS);
  if (syscall(SYS_setresgid, gid, gid, gid) < 0)
    return fail_with(p, i, IK_SC_SETRESGID);
  if (syscall(SYS_setresuid, uid, uid, uid) < 0)
    return fail_with(p, i, IK_SC_SETRESUID);

  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  for (int k = 0; k < 2; k++) {
    uint32_t bits = (uint32_t)(keep >> (32 * k));
    data[k].effective = data[k].permitted = data[k].inheritable = bits;
  }
  if (syscall(SYS_capset, &hdr, data) < 0)
    return fail_with(p, i, IK_SC_CAPSET);
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return fail_with(p, i, IK_SC_PRCTL);
  /* A non-root payload keeps capabilities across execve only as ambient ones. */
  if (uid != 0)
    for (int cap = 0; cap < 64; cap++)
      if ((keep & (1ull << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
        return fail_with(p, i, IK_SC_PRCTL);
  if (uid != 0 && keep != 0 && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
    return fail_with(p, i, IK_SC_PRCTL);
  return 0;
}

/* The moment of the exec, for wall time: taken here, in the child, because
 * init (waiting in clone until the exec) may not run again before a short
 * command has already finished on a busy machine. */
static void stamp_exec(struct ik_proc *p) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  int first = p->exec_ns == 0;
  p->exec_ns = (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
  /* A spawned child says it once, at its first execve: a PATH search
   * takes microseconds per directory, and one record per try could fill
   * the pipe of a PATH of thousands. */
  if (first)
    report(p, IK_REPORT_EXEC);
}

/* execvpe() without its allocation: PATH is searched the way POSIX shells
 * do, remembering EACCES so "found but not executable" is not reported as
 * "not found". */
static void exec_search(struct ik_proc *p, const char *file, const char *path) {
  if (strchr(file, '/') != NULL || path == NULL) {
    stamp_exec(p);
    execve(file, p->argv, p->envp);
    return;
  }
  size_t flen = strlen(file);
  int saw_eacces = 0;
  const char *dir = path;
  for (;;) {
    const char *end = strchr(dir, ':');
    size_t dlen = end ? (size_t)(end - dir) : strlen(dir);
    if (dlen + 1 + flen + 1 <= IK_PATH_BUF) {
      size_t n = 0;
      if (dlen == 0) {
        p->path_buf[n++] = '.';
      } else {
        memcpy(p->path_buf, dir, dlen);
        n = dlen;
      }
      p->path_buf[n++] = '/';
      memcpy(p->path_buf + n, file, flen + 1);
      stamp_exec(p);
      execve(p->path_buf, p->argv, p->envp);
      switch (errno) {
      case EACCES:
        saw_eacces = 1;
        break;
      case ENOENT:
      case ENOTDIR:
      case ESTALE:
      case ENODEV:
      case ETIMEDOUT:
      case ELOOP:
      case ENAMETOOLONG:
        break;
      default:
        return;
      }
    }
    if (end == NULL)
      break;
    dir = end + 1;
  }
  errno = saw_eacces ? EACCES : ENOENT;
}

static int child_main(void *arg) {
  struct ik_proc *p = arg;
  const struct ik_plan *plan = p->plan;
  for (int k = 0; k < 3; k++) {
    if (p->stdio[k] == k) {
      if (fcntl(k, F_SETFD, 0) < 0)
        goto fail_stdio;
    } else if (dup2(p->stdio[k], k) < 0) {
      goto fail_stdio;
    }
  }
  /* Own session and process group, so a group signal reaches its children. */
  setsid();
  umask(022);
  /* The OOM killer's first choice, not init (oom_guard.h); before the
   * credentials, so that where CAP_SYS_RESOURCE is held it sticks. */
  int sc;
  if (ik_oom_prefer_this(&sc) < 0) {
    fail_with(p, p->first_op ? p->first_op - 1 : 0, (uint32_t)sc);
    _exit(127);
  }
  uint32_t filter_op = UINT32_MAX; /* the caller's seccomp filter: installed last */
  for (uint32_t i = p->first_op; i < p->exec_op; i++) {
    const struct ik_op *op = &plan->ops[i];
    switch (op->type) {
    case IK_OP_SECCOMP:
      filter_op = i;
      break;
    case IK_OP_RLIMIT: {
      struct rlimit rl = {(rlim_t)op->num[1], (rlim_t)op->num[2]};
      if (setrlimit((int)op->num[0], &rl) < 0) {
        fail_with(p, i, IK_SC_SETRLIMIT);
        _exit(127);
      }
      break;
    }
    case IK_OP_CREDS:
      if (set_creds(p, i) < 0)
        _exit(127);
      break;
    case IK_OP_CHDIR:
      if (chdir(ik_plan_str(plan, op->str[0])) < 0) {
        fail_with(p, i, IK_SC_CHDIR);
        _exit(127);
      }
      break;
    case IK_OP_NO_NEW_PRIVS:
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        fail_with(p, i, IK_SC_PRCTL);
        _exit(127);
      }
      break;
    }
  }
  /* In a pid namespace init's death kills everything; without one, at
   * least the process init started goes with it. Here, after the
   * credentials: the kernel clears the parent-death signal when a
   * process's uids or gids change, so set before the drop to `nobody` it
   * was gone by the exec (a review, 2026-11-29). The exec keeps it: no
   * setuid program runs (nosuid, no_new_privs). */
  if (p->die_with_init && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) {
    fail_with(p, p->first_op ? p->first_op - 1 : 0, IK_SC_PRCTL);
    _exit(127);
  }
  /* init killed before that took: nothing would end this process. */
  if (p->die_with_init && getppid() != p->parent)
    _exit(127);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  /* Last, so that it need allow nothing of ours but execve (and the report's
   * write if that fails). The lists are 4-aligned: their items are the
   * filter's instructions as they lie (u16 code, u8 jt, u8 jf, u32 k,
   * little-endian, two items each; plan.ts writes them so). */
  if (filter_op != UINT32_MAX) {
    struct ik_list l = ik_plan_list(plan, plan->ops[filter_op].num[0]);
    struct sock_fprog prog = {(unsigned short)(l.count / 2), (struct sock_filter *)(uintptr_t)l.items};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0) {
      fail_with(p, filter_op, IK_SC_SECCOMP);
      _exit(127);
    }
  }
  const struct ik_op *ex = &plan->ops[p->exec_op];
  exec_search(p, ik_plan_str(plan, ex->str[0]), ik_plan_str(plan, ex->str[1]));
  fail_with(p, p->exec_op, IK_SC_EXECVE);
  _exit(127);
fail_stdio:
  fail_with(p, p->first_op ? p->first_op - 1 : 0, IK_SC_DUP2);
  _exit(127);
}

static void *child_stack(void) {
  static void *stack;
  if (stack == NULL) {
    stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED)
      stack = NULL;
  }
  return stack;
}

pid_t ik_process_start(struct ik_proc *p) {
  void *stack = child_stack();
  if (stack == NULL)
    return fail_with(p, p->exec_op, IK_SC_FORK);
  p->failed = 0;
  p->report_fd = -1;
  /* We wait here until the child execs or exits. A process of the uid it
   * drops to (one left by an earlier run) can SIGSTOP it in between, and
   * then we wait for good; the Node side kills the container when a run's
   * kill is not carried out within a second (docs/security.md). */
  pid_t pid = clone(child_main, (char *)stack + CHILD_STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD, p);
  if (pid < 0)
    return fail_with(p, p->exec_op, IK_SC_FORK);
  if (p->failed) {
    /* Reap it now so the exit loop never reports a process that never ran. */
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
      ;
    return -1;
  }
  return pid;
}

pid_t ik_process_spawn(struct ik_proc *p, int *report_rd) {
  void *stack = child_stack();
  int pipefd[2];
  p->failed = 0;
  p->report_fd = -1;
  if (stack == NULL || pipe2(pipefd, O_CLOEXEC) < 0)
    return fail_with(p, p->exec_op, IK_SC_FORK);
  p->report_fd = pipefd[1];
  /* No CLONE_VM, no CLONE_VFORK: init goes on at once and learns of the
   * exec from the pipe (a process of the payload's uid may stop the child
   * between its drop to that uid and its exec, and init must still answer
   * the kill that follows). The child runs on its own copy of the stack. */
  pid_t pid = clone(child_main, (char *)stack + CHILD_STACK_SIZE, SIGCHLD, p);
  int saved = errno;
  close(pipefd[1]);
  p->report_fd = -1;
  if (pid < 0) {
    close(pipefd[0]);
    errno = saved;
    return fail_with(p, p->exec_op, IK_SC_FORK);
  }
  fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
  *report_rd = pipefd[0];
  return pid;
}

int ik_process_collect(int report_rd, int64_t *exec_ns, struct ik_fail *fail) {
  struct ik_report r;
  for (;;) {
    ssize_t n = read(report_rd, &r, sizeof r);
    if (n == (ssize_t)sizeof r) {
      if (r.kind == IK_REPORT_EXEC) {
        *exec_ns = r.exec_ns;
      } else if (r.kind == IK_REPORT_FAIL) {
        *fail = r.fail;
        return IK_SPAWN_FAILED;
      }
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return IK_SPAWN_WAIT;
    /* End of file (or a torn record, which cannot happen below PIPE_BUF):
     * the exec closed the pipe, or the child died before it. */
    return IK_SPAWN_EXECD;
  }
}
