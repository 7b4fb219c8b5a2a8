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
#include "../fds.h"
#include "../ik_plan.h"
#include "../ik_proto.h"

#define ZYGOTE_FD 3
#define MAX_FDS 6

static void reply(int32_t pid, int pidfd) {
  struct ik_zygote_rep rep = {pid, 0};
  ik_send_fds(ZYGOTE_FD, &rep, sizeof rep, &pidfd, pidfd >= 0 ? 1 : 0);
}

/* In the new container: the received fds become 0-4, then init runs. A
 * failure before init can report is sent as init would send it. */
static void __attribute__((noreturn)) become_init(int *fds, int netns, void (*container_main)(void)) {
  int err = 0;
  if (netns >= 0 && setns(netns, CLONE_NEWNET) < 0)
    err = errno;
  if (err == 0 && ik_place_fds(fds, 5) < 0)
    err = errno;
  if (err != 0) {
    struct ik_msg m;
    memset(&m, 0, sizeof m);
    m.type = IK_MSG_FAIL;
    m.id = IK_ID_CONTAINER;
    m.b = IK_SC_EXEC_INIT;
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

    int want = 5 + (req.has_netns ? 1 : 0);
    if (n != sizeof req || nfds != want) {
      reply(-EPROTO, -1);
    } else {
      int pidfd = -1;
      /* A fork of this small process (no CLONE_VM: the child needs its own
       * copy to become init). Exit signal: CLONE_PARENT takes ours. */
      long pid = syscall(SYS_clone, (unsigned long)req.clone_flags | CLONE_PARENT | CLONE_PIDFD, NULL,
                         &pidfd, NULL, 0);
      if (pid == 0)
        become_init(fds, req.has_netns ? fds[5] : -1, container_main);
      reply(pid < 0 ? -errno : (int32_t)pid, pidfd);
      if (pidfd >= 0)
        close(pidfd);
    }
    for (int j = 0; j < nfds; j++)
      close(fds[j]);
  }
}
