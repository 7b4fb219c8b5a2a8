/* The zygote.
 *
 * exec is the most expensive step of a container start (here ~0.3 ms of the
 * kernel loading a binary), and init needs none: the zygote is init already
 * loaded. For each request it clones itself into the new namespaces with
 * CLONE_PARENT, so the container's init is a child of the Node process (which
 * reaps it through the pidfd we hand back) and the zygote never has children
 * to reap. The zygote never reads a plan or any other container data: a child
 * inherits nothing but the zygote's own memory.
 *
 * It exits when Node hangs up its socket (fd 3), which the kernel does when
 * Node dies.
 */
#define _GNU_SOURCE
#include "zygote.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../compat.h"
#include "../fdpass.h"
#include "../cgroup_join.h"
#include "../fds.h"
#include "../ik_plan.h"
#include "../ik_proto.h"

#define ZYGOTE_FD 3
#define MAX_FDS (8 + IK_MAX_CGROUP_JOIN)

static void reply(int32_t pid, int pidfd) {
  struct ik_zygote_rep rep = {pid, 0};
  /* Node blocks until it hears from us: if the fd cannot go, the reply
   * still must (Node then sees no pidfd and reports EPROTO). */
  if (ik_send_fds(ZYGOTE_FD, &rep, sizeof rep, &pidfd, pidfd >= 0 ? 1 : 0) < 0 && pidfd >= 0)
    ik_send_fds(ZYGOTE_FD, &rep, sizeof rep, NULL, 0);
}

/* In the new container: join the cgroups (unless clone3 placed us), then
 * the received fds become 0-5 (the rest are closed) and init runs. A failure
 * before init can report is sent as init would send it. */
static void __attribute__((noreturn)) become_init(int *fds, int netns, const int *join, int n_join,
                                                  void (*container_main)(void)) {
  int err = 0, sc = IK_SC_EXEC_INIT;
  if (ik_cgroup_join(join, n_join) < 0) {
    err = errno;
    sc = IK_SC_CGROUP_JOIN;
  }
  if (err == 0 && netns >= 0 && setns(netns, CLONE_NEWNET) < 0)
    err = errno;
  if (err == 0 && ik_place_fds(fds, 6) < 0)
    err = errno;
  if (err != 0) {
    struct ik_msg m;
    memset(&m, 0, sizeof m);
    m.type = IK_MSG_FAIL;
    m.id = IK_ID_CONTAINER;
    m.b = sc;
    m.c = err;
    send(fds[4], &m, sizeof m, MSG_NOSIGNAL);
    _exit(IK_INIT_EXIT_SETUP_FAILED);
  }
  container_main();
  _exit(IK_INIT_EXIT_SETUP_FAILED);
}

void ik_zygote_main(void (*container_main)(void)) {
  /* The addon armed PR_SET_PDEATHSIG for the thread that started us, which
   * may be a worker thread that ends long before Node does. Our socket
   * hanging up is the one sign that Node is gone, whatever its threads do. */
  prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  prctl(PR_SET_NAME, "isolate-kit-zyg", 0, 0, 0);
  /* Out of the Node process's session and scheduler autogroup, which a
   * uid-0 payload with no pid namespace could otherwise reach through
   * /proc/<zygote>/autogroup (each init takes a session of its own too). */
  setsid();
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
  for (;;) {
    struct ik_zygote_req req;
    int fds[MAX_FDS];
    int nfds;
    ssize_t n = ik_recv_fds(ZYGOTE_FD, &req, sizeof req, fds, MAX_FDS, &nfds, 0);
    if (n <= 0)
      _exit(0); /* Node hung up */

    int want = 6 + (req.has_netns ? 1 : 0) + (req.has_cgroup_dir ? 1 : 0) + (int)req.n_cgroup_join;
    if (n != sizeof req || nfds != want || req.n_cgroup_join > IK_MAX_CGROUP_JOIN) {
      reply(-EPROTO, -1);
    } else {
      int netns = req.has_netns ? fds[6] : -1;
      int cgroup_dir = req.has_cgroup_dir ? fds[6 + (req.has_netns ? 1 : 0)] : -1;
      const int *join = fds + 6 + (req.has_netns ? 1 : 0) + (req.has_cgroup_dir ? 1 : 0);
      int n_join = (int)req.n_cgroup_join;
      int pidfd = -1;
      long pid = -1;
      errno = ENOSYS;
      if (cgroup_dir >= 0) {
        /* cgroup v2: born in its cgroup (clone3 CLONE_INTO_CGROUP, Linux
         * 5.7), so not one page or tick is charged elsewhere. exit_signal 0:
         * with CLONE_PARENT the child takes ours. */
        struct ik_clone_args ca;
        memset(&ca, 0, sizeof ca);
        ca.flags = req.clone_flags | CLONE_PARENT | CLONE_PIDFD | CLONE_INTO_CGROUP;
        ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
        ca.cgroup = (uint64_t)cgroup_dir;
        pid = syscall(__NR_clone3, &ca, sizeof ca);
        if (pid == 0)
          become_init(fds, netns, NULL, 0, container_main);
        /* A failed clone may have written a pidfd number it then took back. */
        if (pid < 0)
          pidfd = -1;
      }
      /* No clone3 (ENOSYS, E2BIG), or it refused (a group that takes no
       * processes, say): clone, and the child joins its groups first thing
       * (on v1 by writing 0 to each `tasks` file: moving only the calling
       * thread takes no global lock, where moving a process by pid waits
       * for an RCU grace period, ms here), whose error names the cgroup. */
      if (pid < 0) {
        /* A fork of this small process (no CLONE_VM: the child needs its own
         * copy to become init). Exit signal: CLONE_PARENT takes ours. */
        pid = syscall(SYS_clone, (unsigned long)req.clone_flags | CLONE_PARENT | CLONE_PIDFD, NULL, &pidfd, NULL, 0);
        if (pid == 0)
          become_init(fds, netns, join, n_join, container_main);
      }
      int saved = errno;
      if (pid < 0)
        pidfd = -1;
      reply(pid < 0 ? -saved : (int32_t)pid, pidfd);
      if (pidfd >= 0)
        close(pidfd);
    }
    for (int j = 0; j < nfds; j++)
      close(fds[j]);
  }
}
