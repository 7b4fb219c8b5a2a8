/* isolate-kit-init: PID 1 of a container.
 *
 * The addon clones it into fresh namespaces and execs it by fd (a sealed
 * memfd), so no image has to contain it. It then
 *   1. reads the plan (fd 3) and runs its container phase (network namespace,
 *      mounts, pivot_root, hostname);
 *   2. starts the main process, if the plan has one, and later any process the
 *      parent asks for on the control socket (fd 4);
 *   3. reaps every process in the namespace, forwards termination signals,
 *      reports each exit, and exits with the main process's status (128+n for
 *      signal n), which takes every other process in the namespace with it.
 *
 * The payload cannot make it lie: it is not dumpable (no ptrace, no
 * /proc/1/mem), the kernel drops signals from inside the namespace that init
 * does not handle (SIGKILL and SIGSTOP included), and its control socket and
 * binary are not reachable from the payload (see docs/security.md).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../ik_plan.h"
#include "../fdpass.h"
#include "../ik_proto.h"
#include "netlink_guard.h"
#include "plan_reader.h"
#include "process.h"
#include "setup.h"
#include "zygote.h"

#define PLAN_FD 3
#define CTRL_FD 4
#define NETLINK_SET_FD 5 /* netlink_guard.h */

struct child {
  uint32_t id;
  pid_t pid;
  int report; /* started by ik_process_spawn and not yet exec'd: its report pipe; else -1 */
};

static struct child *children;
static size_t n_children, cap_children;
static pid_t main_pid = -1;
static uint32_t main_id;
static int in_pidns; /* PID 1 of our own pid namespace */
static pid_t caller_pid; /* our parent, the Node process (0 from inside a pid namespace) */
static int stopping;

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void send_msg(const struct ik_msg *m) {
  while (send(CTRL_FD, m, sizeof *m, MSG_NOSIGNAL) < 0 && errno == EINTR)
    ;
}

static void report_fail(uint32_t id, const struct ik_fail *f) {
  struct ik_msg m;
  memset(&m, 0, sizeof m);
  m.type = IK_MSG_FAIL;
  m.id = id;
  m.a = (int32_t)f->op;
  m.b = (int32_t)f->sc;
  m.c = f->err;
  send_msg(&m);
}

/* Ends the container. In our own pid namespace the kernel kills everything
 * left when PID 1 exits; without one, kill the process groups we started. */
/* Signals the process group child k leads, or the child alone when it
 * does not lead one yet (started, before its setsid: it has every signal
 * blocked until its exec, and takes this one then). */
static void signal_group(size_t k, int sig) {
  if (kill(-children[k].pid, sig) < 0 && errno == ESRCH)
    kill(children[k].pid, sig);
}

static void __attribute__((noreturn)) finish(int code) {
  if (!in_pidns)
    for (size_t k = 0; k < n_children; k++)
      signal_group(k, SIGKILL);
  _exit(code);
}

static int add_child(uint32_t id, pid_t pid, int report) {
  if (n_children == cap_children) {
    size_t cap = cap_children ? cap_children * 2 : 8;
    struct child *c = realloc(children, cap * sizeof *c);
    if (c == NULL)
      return -1;
    children = c;
    cap_children = cap;
  }
  children[n_children].id = id;
  children[n_children].pid = pid;
  children[n_children].report = report;
  n_children++;
  return 0;
}

static void send_ready(uint32_t id, pid_t pid, int64_t exec_ns) {
  struct ik_msg m;
  memset(&m, 0, sizeof m);
  m.type = IK_MSG_READY;
  m.id = id;
  m.a = pid;
  m.t_ns = exec_ns ? exec_ns : now_ns();
  send_msg(&m);
}

/* A process to start as `id` with these fds as 0-2: prepared (argv and
 * env built from the plan), or -1 with p->fail set. */
static int proc_prepare(struct ik_proc *p, const struct ik_plan *plan, uint32_t first_op, uint32_t id, const int stdio[3]) {
  memset(p, 0, sizeof *p);
  p->id = id;
  p->die_with_init = !in_pidns;
  memcpy(p->stdio, stdio, sizeof p->stdio);
  return ik_process_prepare(p, plan, first_op);
}

/* Lists a started process; out of memory for that, kills it (do not run
 * what we cannot track) and returns -1 with p->fail set. */
static pid_t proc_track(struct ik_proc *p, pid_t pid, int report) {
  if (add_child(p->id, pid, report) == 0)
    return pid;
  kill(pid, SIGKILL);
  if (report >= 0)
    close(report);
  p->fail.op = p->exec_op;
  p->fail.sc = IK_SC_FORK;
  p->fail.err = ENOMEM;
  return -1;
}

static pid_t start(const struct ik_plan *plan, uint32_t first_op, uint32_t id, const int stdio[3]) {
  struct ik_proc p;
  pid_t pid = -1;
  if (proc_prepare(&p, plan, first_op, id, stdio) == 0)
    pid = ik_process_start(&p);
  if (pid > 0)
    pid = proc_track(&p, pid, -1);
  if (pid < 0)
    report_fail(id, &p.fail);
  else
    send_ready(id, pid, p.exec_ns);
  ik_process_free(&p);
  return pid;
}

/* Reads what children[k], spawned, has reported: once it has exec'd, tells
 * the parent (READY); once it has failed, tells it why (FAIL) and drops it
 * from the list (its exit, 127, is reaped unreported). Returns 0 while it
 * has yet to say. `dead`: it has been reaped, its pipe has all there was. */
static int settle_spawned(size_t k, int dead) {
  struct child *c = &children[k];
  int64_t exec_ns = 0;
  struct ik_fail f;
  memset(&f, 0, sizeof f);
  int st = ik_process_collect(c->report, &exec_ns, &f);
  if (st == IK_SPAWN_WAIT && !dead)
    return 0;
  close(c->report);
  c->report = -1;
  if (st == IK_SPAWN_FAILED) {
    report_fail(c->id, &f);
    children[k] = children[--n_children];
    return 1;
  }
  send_ready(c->id, c->pid, exec_ns);
  return 1;
}

/* A process the parent asks for once the container runs. init does not
 * wait for its exec (see ik_process_spawn): READY or FAIL follows from its
 * report pipe, in the main loop. */
static void spawn(const struct ik_plan *plan, uint32_t first_op, uint32_t id, const int stdio[3]) {
  struct ik_proc p;
  pid_t pid = -1;
  int report = -1;
  if (proc_prepare(&p, plan, first_op, id, stdio) == 0)
    pid = ik_process_spawn(&p, &report);
  ik_process_free(&p); /* the child has its own copy */
  if (pid > 0)
    pid = proc_track(&p, pid, report);
  if (pid < 0)
    report_fail(id, &p.fail);
}

static void signal_all(int sig) {
  if (in_pidns) {
    kill(-1, sig); /* every process in our namespace but us */
    return;
  }
  /* Each process we start leads its own process group (setsid). */
  for (size_t k = 0; k < n_children; k++)
    signal_group(k, sig);
}

/* Adds to `set` (of `*n`, capacity `cap`) every process whose parent is in
 * it, reading /proc; returns how many were added. */
static size_t add_descendants(pid_t *set, size_t *n, size_t cap) {
  size_t added = 0;
  DIR *d = opendir("/proc");
  if (d == NULL)
    return 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    pid_t pid = (pid_t)atoi(e->d_name);
    if (pid <= 1)
      continue;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      continue;
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0)
      continue;
    buf[len] = 0;
    char *rp = strrchr(buf, ')'); /* the command may contain anything */
    int ppid;
    if (rp == NULL || sscanf(rp + 1, " %*c %d", &ppid) != 1)
      continue;
    int in_set = 0, parent_in = 0;
    for (size_t k = 0; k < *n; k++) {
      in_set |= set[k] == pid;
      parent_in |= set[k] == ppid;
    }
    if (!in_set && parent_in && *n < cap) {
      set[(*n)++] = pid;
      added++;
    }
  }
  closedir(d);
  return added;
}

/* Signals a process, its process group and all its descendants. For
 * SIGKILL they are stopped first, the tree re-read until nothing new
 * appears, then killed: a process that forks while we look cannot slip out,
 * and a child whose parent is killed first is not orphaned out of sight. An
 * orphan that left both the tree (reparented to us) and the group (setsid)
 * is the container's to end. */
static void signal_tree(pid_t root, int sig) {
  enum { CAP = 4096 };
  static pid_t set[CAP];
  size_t n = 0;
  set[n++] = root;
  if (sig == SIGKILL) {
    kill(-root, SIGSTOP); /* each process we start leads its own group */
    kill(root, SIGSTOP);
    for (int pass = 0; pass < 16; pass++) {
      size_t before = n;
      add_descendants(set, &n, CAP);
      for (size_t k = before; k < n; k++)
        kill(set[k], SIGSTOP);
      if (n == before)
        break;
    }
  } else {
    add_descendants(set, &n, CAP);
    while (add_descendants(set, &n, CAP) > 0)
      ;
  }
  kill(-root, sig);
  for (size_t k = 0; k < n; k++)
    kill(set[k], sig);
}

static int is_stop_signal(int sig) {
  return sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT;
}

/* kill() and pidfd_send_signal() without a siginfo (what the addon uses)
 * give SI_USER, tgkill() SI_TKILL: codes only the kernel writes, with the
 * sender's real pid, and which rt_sigqueueinfo() and its kin refuse to a
 * process signalling another. Any other code is either the kernel's own
 * (SI_KERNEL, SI_SIGIO, POLL_*, timers, message queues) or chosen by the
 * sender with the rest of the siginfo: a uid-0 payload may queue SI_QUEUE
 * (or SI_MESGQ, SI_TIMER...) with si_pid 0, which looks like a sender our
 * namespace cannot see. sigqueue() from outside is ignored with them. */
static int sent_by_a_process(int32_t code) {
  return code == SI_USER || code == SI_TKILL;
}

/* Only signals from outside count, so that a payload signalling init gets
 * nothing done, not even a stop. In our own pid namespace that is a sender
 * it cannot see (ssi_pid 0: the Node process, a host admin), and the code
 * must say the kernel filled that in: a signal it raises on a payload's
 * behalf (F_SETOWN + F_SETSIG on one of its fds names PID 1 as owner; uid 0
 * may do that) has no sender pid either, nor has one a uid-0 payload queues
 * with a siginfo of its own. Without a pid namespace every sender is
 * visible, a uid-0 payload may signal init (root) like the caller, and
 * init's signals reach processes of other uids it could not: only the
 * Node process, our parent, counts. */
static int from_outside(const struct signalfd_siginfo *si) {
  if (!sent_by_a_process(si->ssi_code))
    return 0;
  return in_pidns ? si->ssi_pid == 0 : (pid_t)si->ssi_pid == caller_pid;
}

static void forward(int sig) {
  /* With a main process the signal is its to handle: it may go on (a
   * SIGHUP to reload), and so may the container. */
  if (main_pid > 0) {
    kill(main_pid, sig);
    return;
  }
  signal_all(sig);
  if (is_stop_signal(sig)) {
    /* Stopping: no process starts from now on (handle_spawn), or one whose
     * request was still on its way would miss the signal and hold the stop
     * up to its timeout. (With a main process, its end ends them all.) */
    stopping = 1;
    if (n_children == 0)
      finish(128 + sig);
  }
}

/* Reaps one exited child, if any. Without a pid namespace nothing ends the
 * main process's group when it exits (finish() kills the groups of the
 * children still listed, and the main one no longer is): kill it first,
 * while the main process is an unreaped zombie. Its pid, and so its group's
 * id, cannot be another's then, and a group can only be joined from its own
 * session, which init started: only what init started is killed. A process
 * that left the session (setsid) is out of reach here, as for finish(). */
static pid_t reap_one(int *status, struct rusage *ru) {
  if (in_pidns)
    return wait4(-1, status, WNOHANG | __WALL, ru);
  siginfo_t si;
  si.si_pid = 0;
  if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT | __WALL) < 0 || si.si_pid <= 0)
    return 0;
  if (si.si_pid == main_pid)
    kill(-main_pid, SIGKILL);
  return wait4(si.si_pid, status, WNOHANG | __WALL, ru);
}

static void reap(void) {
  int status;
  struct rusage ru;
  pid_t pid;
  while ((pid = reap_one(&status, &ru)) > 0) {
    for (size_t k = 0; k < n_children; k++) {
      if (children[k].pid != pid)
        continue;
      /* Gone before its report was read: READY first (or FAIL and no more). */
      if (children[k].report >= 0) {
        size_t before = n_children;
        settle_spawned(k, 1);
        if (n_children < before)
          break;
      }
      struct ik_msg m;
      memset(&m, 0, sizeof m);
      m.type = IK_MSG_EXIT;
      m.id = children[k].id;
      m.a = status;
      m.utime_us = (int64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec;
      m.stime_us = (int64_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
      m.maxrss_kb = ru.ru_maxrss;
      m.t_ns = now_ns();
      send_msg(&m);
      children[k] = children[--n_children];
      if (pid == main_pid)
        finish(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
      break;
    }
  }
  if (stopping && n_children == 0)
    finish(128 + SIGTERM);
}

/* No process but init in our pid namespace: every process in it descends
 * from init, so init with no child, alive or not, means none. Then no
 * process of the payload's uid there can stop a child between its drop to
 * that uid and its exec (one outside would need to see our pids, and
 * Landlock keeps other containers' signals out): start() may wait in
 * vfork, ~0.15 ms faster a command here than spawn(). */
static int container_empty(void) {
  if (!in_pidns)
    return 0;
  siginfo_t si;
  return waitid(P_ALL, 0, &si, WEXITED | WSTOPPED | WCONTINUED | WNOHANG | WNOWAIT | __WALL) < 0 && errno == ECHILD;
}

static void handle_spawn(const struct ik_req *req, int *fds, int nfds) {
  struct ik_fail f = {0, IK_SC_RECVMSG, EBADF};
  if (nfds != 4) {
    report_fail(req->id, &f);
    return;
  }
  if (stopping) {
    f.sc = IK_SC_FORK;
    f.err = ECANCELED;
    report_fail(req->id, &f);
    return;
  }
  struct ik_plan plan;
  int r = ik_plan_read(fds[3], &plan);
  long bad = r < 0 ? 0 : ik_plan_validate(&plan);
  if (r < 0 || bad >= 0 || plan.op_count == 0 || plan.ops[0].type != IK_OP_PROCESS) {
    f.op = bad > 0 ? (uint32_t)bad : 0;
    f.sc = r < 0 ? IK_SC_READ : IK_SC_PLAN;
    f.err = r < 0 ? -r : EINVAL;
    report_fail(req->id, &f);
  } else if (container_empty()) {
    start(&plan, 1, req->id, fds); /* nothing there to stop the child: vfork's speed */
  } else {
    spawn(&plan, 1, req->id, fds);
  }
  free(plan.buf);
}

static void handle_ctrl(void) {
  struct ik_req req;
  int fds[4];
  int nfds;
  ssize_t n = ik_recv_fds(CTRL_FD, &req, sizeof req, fds, 4, &nfds, MSG_DONTWAIT);
  if (n < 0 && errno == EAGAIN)
    return;
  if (n <= 0)
    finish(128 + SIGKILL); /* the parent is gone: so is the container */
  if (nfds < 0)
    nfds = 0; /* truncated: what came was closed; a SPAWN then fails for want of fds */

  if (n == sizeof req && req.type == IK_REQ_SPAWN) {
    handle_spawn(&req, fds, nfds);
  } else if (n == sizeof req && req.type == IK_REQ_SIGNAL) {
    if (req.id == IK_ID_CONTAINER) {
      signal_all(req.sig);
    } else {
      for (size_t k = 0; k < n_children; k++) {
        if (children[k].id != req.id)
          continue;
        if (req.flags & IK_REQ_F_TREE)
          signal_tree(children[k].pid, req.sig);
        else
          kill(children[k].pid, req.sig);
      }
    }
  }
  for (int j = 0; j < nfds; j++)
    close(fds[j]);
}

/* PID 1 of a container: fds 0-2 the main process's stdio, 3 the plan, 4 the
 * control socket, 5 the set to count netlink sockets in. */
static void __attribute__((noreturn)) container_main(void) {
  /* Per-process, and nothing the payload can do changes it. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  /* A session of our own, and with it a scheduler autogroup of our own:
   * in the caller's, a uid-0 payload could write 19 to /proc/1/autogroup
   * (root's file; raising a nice needs no capability) and slow the Node
   * process and its whole session, for good. */
  setsid();
  prctl(PR_SET_NAME, "isolate-kit-ini", 0, 0, 0);
  caller_pid = getppid();
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
  fcntl(CTRL_FD, F_SETFD, FD_CLOEXEC);
  fcntl(NETLINK_SET_FD, F_SETFD, FD_CLOEXEC);
  ik_netlink_guard_count_in(NETLINK_SET_FD);
  /* Modes in the plan are exact (mkdir, mknod); payloads get 022 back. */
  umask(0);

  struct ik_fail f = {0, IK_SC_READ, 0};
  struct ik_plan plan;
  int r = ik_plan_read(PLAN_FD, &plan);
  close(PLAN_FD);
  if (r < 0) {
    f.err = -r;
    report_fail(IK_ID_CONTAINER, &f);
    _exit(IK_INIT_EXIT_SETUP_FAILED);
  }
  long bad = ik_plan_validate(&plan);
  if (bad >= 0) {
    f.op = (uint32_t)bad;
    f.sc = IK_SC_PLAN;
    f.err = EINVAL;
    report_fail(IK_ID_CONTAINER, &f);
    _exit(IK_INIT_EXIT_SETUP_FAILED);
  }
  in_pidns = (plan.flags & IK_PLAN_F_PIDNS) && getpid() == 1;
  if (!in_pidns)
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

  uint32_t end = plan.op_count;
  for (uint32_t i = 0; i < plan.op_count; i++)
    if (plan.ops[i].type == IK_OP_PROCESS) {
      end = i;
      break;
    }
  if (ik_setup_container(&plan, end, &f) < 0) {
    report_fail(IK_ID_CONTAINER, &f);
    _exit(IK_INIT_EXIT_SETUP_FAILED);
  }
  if (ik_setup_held_fd >= 0) {
    /* Before any process starts, so the parent has it whatever they do. */
    struct ik_msg m;
    memset(&m, 0, sizeof m);
    m.type = IK_MSG_HOLD;
    m.id = IK_ID_CONTAINER;
    ik_send_fds(CTRL_FD, &m, sizeof m, &ik_setup_held_fd, 1);
    close(ik_setup_held_fd);
    ik_setup_held_fd = -1;
  }

  sigset_t handled;
  sigemptyset(&handled);
  int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};
  sigaddset(&handled, SIGCHLD);
  sigaddset(&handled, IK_SIG_END);
  for (size_t k = 0; k < sizeof forwarded / sizeof forwarded[0]; k++)
    sigaddset(&handled, forwarded[k]);
  int sfd = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) {
    f.op = end;
    f.sc = IK_SC_SIGNALFD;
    f.err = errno;
    report_fail(IK_ID_CONTAINER, &f);
    _exit(IK_INIT_EXIT_SETUP_FAILED);
  }

  if (end < plan.op_count) {
    int stdio[3] = {0, 1, 2};
    main_id = (uint32_t)plan.ops[end].num[0];
    main_pid = start(&plan, end + 1, main_id, stdio);
    if (main_pid < 0)
      _exit(IK_INIT_EXIT_SETUP_FAILED);
  } else {
    /* No main process: tell the parent the container is ready for some. */
    struct ik_msg m;
    memset(&m, 0, sizeof m);
    m.type = IK_MSG_READY;
    m.id = IK_ID_CONTAINER;
    m.a = getpid();
    send_msg(&m);
  }
  free(plan.buf);
  /* init keeps no end of the payload's stdio: EOF then means the payload and
   * its children closed theirs. */
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int k = 0; k < 3; k++) {
    if (null_fd >= 0)
      dup2(null_fd, k);
    else
      close(k);
  }
  if (null_fd > 2)
    close(null_fd);

  struct pollfd *pfd = NULL;
  size_t pfd_cap = 0;
  for (;;) {
    /* poll skips a negative fd: no guard, nothing to answer; nor a child's
     * report already read. */
    size_t n_pfd = 3 + n_children;
    if (n_pfd > pfd_cap) {
      struct pollfd *grown = realloc(pfd, n_pfd * 2 * sizeof *pfd);
      if (grown == NULL)
        finish(128 + SIGKILL);
      pfd = grown;
      pfd_cap = n_pfd * 2;
    }
    pfd[0] = (struct pollfd){sfd, POLLIN, 0};
    pfd[1] = (struct pollfd){CTRL_FD, POLLIN, 0};
    pfd[2] = (struct pollfd){ik_setup_guard_fd, POLLIN, 0};
    for (size_t k = 0; k < n_children; k++)
      pfd[3 + k] = (struct pollfd){children[k].report, POLLIN, 0};
    if (poll(pfd, (nfds_t)n_pfd, -1) < 0) {
      if (errno == EINTR)
        continue;
      finish(128 + SIGKILL);
    }
    /* Reports first: a child's READY goes before its EXIT. The list may
     * shrink as they settle; what is left is looked at next time round. */
    for (size_t k = 0; k < n_children && 3 + k < n_pfd; k++)
      if (children[k].report >= 0 && children[k].report == pfd[3 + k].fd && (pfd[3 + k].revents & (POLLIN | POLLHUP | POLLERR)))
        settle_spawned(k, 0);
    if (pfd[0].revents & POLLIN) {
      struct signalfd_siginfo si[8];
      ssize_t n;
      int chld = 0;
      while ((n = read(sfd, si, sizeof si)) > 0) {
        for (size_t k = 0; k < (size_t)n / sizeof si[0]; k++) {
          if (si[k].ssi_signo == SIGCHLD) {
            chld = 1;
          } else if (!from_outside(&si[k])) {
            /* a payload's, or the kernel's on its behalf: nothing */
          } else if (si[k].ssi_signo == IK_SIG_END) {
            signal_all(SIGKILL);
            finish(128 + SIGKILL);
          } else {
            forward((int)si[k].ssi_signo);
          }
        }
      }
      if (chld)
        reap();
    }
    if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))
      handle_ctrl();
    if (pfd[2].revents & POLLIN)
      ik_netlink_guard_answer(ik_setup_guard_fd, CTRL_FD);
    else if (pfd[2].revents & (POLLHUP | POLLERR | POLLNVAL)) {
      /* No process left under the filter: nothing more will come. */
      close(ik_setup_guard_fd);
      ik_setup_guard_fd = -1;
    }
  }
}

int main(int argc, char **argv) {
  (void)argc;
  if (argv[0] != NULL && strcmp(argv[0], "isolate-kit-zygote") == 0)
    ik_zygote_main(container_main);
  /* Started directly by the addon: it armed PR_SET_PDEATHSIG, which exec
   * keeps. */
  container_main();
}
