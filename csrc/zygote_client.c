#define _GNU_SOURCE
#include "zygote_client.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compat.h"
#include "fdpass.h"
#include "ik_proto.h"
#include "spawn.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int zsock = -1;   /* our end of the zygote's socket */
static int zpidfd = -1;  /* the zygote itself, to reap it if it dies */

static void stop_zygote(void) {
  if (zsock >= 0)
    close(zsock);
  zsock = -1;
  if (zpidfd >= 0) {
    /* It hung up or died: make sure it is gone, and reap it (our child). */
    ik_pidfd_send_signal(zpidfd, SIGKILL);
    siginfo_t si;
    while (waitid((idtype_t)P_PIDFD, (id_t)zpidfd, &si, WEXITED | __WALL) < 0 && errno == EINTR)
      ;
    close(zpidfd);
  }
  zpidfd = -1;
}

static int start_zygote(int init_fd, int null_fd, int self_pidfd) {
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
    return -errno;
  struct ik_spawn_args a;
  memset(&a, 0, sizeof a);
  a.argv0 = "isolate-kit-zygote";
  a.init_fd = init_fd;
  a.stdio[0] = a.stdio[1] = a.stdio[2] = null_fd;
  a.plan_fd = sp[1]; /* the zygote's fd 3 */
  a.ctrl_fd = null_fd;
  a.netlink_set_fd = null_fd; /* fd 5 of the zygote: unused */
  a.parent_pidfd = self_pidfd;
  a.netns_fd = -1;
  int pidfd = -1;
  int pid = ik_spawn(0, &a, &pidfd);
  close(sp[1]);
  if (pid < 0) {
    close(sp[0]);
    return pid;
  }
  zsock = sp[0];
  zpidfd = pidfd;
  return 0;
}

static int request(unsigned long ns_flags, const int fds[6], int netns_fd, const struct ik_cgroup_fds *cg,
                   int *pidfd_out) {
  struct ik_zygote_req req;
  memset(&req, 0, sizeof req);
  req.clone_flags = ns_flags;
  int all[8 + IK_MAX_CGROUP_JOIN];
  int nsend = 0;
  for (int i = 0; i < 6; i++)
    all[nsend++] = fds[i];
  if (netns_fd >= 0) {
    req.has_netns = 1;
    all[nsend++] = netns_fd;
  }
  if (cg != NULL && cg->dir_fd >= 0) {
    req.has_cgroup_dir = 1;
    all[nsend++] = cg->dir_fd;
  }
  if (cg != NULL) {
    if (cg->n_join > IK_MAX_CGROUP_JOIN)
      return -E2BIG;
    req.n_cgroup_join = (uint32_t)cg->n_join;
    for (int i = 0; i < cg->n_join; i++)
      all[nsend++] = cg->join_fds[i];
  }
  if (ik_send_fds(zsock, &req, sizeof req, all, nsend) < 0)
    return -errno;
  struct ik_zygote_rep rep;
  int pidfd = -1, nfds;
  ssize_t n = ik_recv_fds(zsock, &rep, sizeof rep, &pidfd, 1, &nfds, 0);
  if (n < 0)
    return -errno;
  if (n == 0)
    return -EPIPE;
  if (nfds <= 0)
    pidfd = -1;
  if (n != (ssize_t)sizeof rep || rep.pid <= 0 || pidfd < 0) {
    if (pidfd >= 0)
      close(pidfd);
    if (n == (ssize_t)sizeof rep && rep.pid > 0) {
      /* The container was made but its pidfd did not reach us: with our fd
       * table full the kernel drops it (MSG_CTRUNC). The new process is our
       * child (CLONE_PARENT) and only we reap it, so its pid is still its
       * own until we do: end it and reap it by pid, or it stays a zombie. */
      kill(rep.pid, SIGKILL);
      while (waitpid(rep.pid, NULL, __WALL) < 0 && errno == EINTR)
        ;
      return nfds < 0 ? -EMFILE : -EPROTO;
    }
    /* A clone failure (EPERM, ENOSPC…) is the container's, not the zygote's. */
    return n == (ssize_t)sizeof rep && rep.pid < 0 ? rep.pid : -EPROTO;
  }
  *pidfd_out = pidfd;
  return rep.pid;
}

int ik_zygote_clone(unsigned long ns_flags, const int fds[6], int netns_fd, const struct ik_cgroup_fds *cg,
                    int init_fd, int null_fd, int self_pidfd, int *pidfd_out) {
  pthread_mutex_lock(&lock);
  int r = 0;
  for (int attempt = 0; attempt < 2; attempt++) {
    if (zsock < 0) {
      r = start_zygote(init_fd, null_fd, self_pidfd);
      if (r < 0)
        break;
    }
    r = request(ns_flags, fds, netns_fd, cg, pidfd_out);
    /* The zygote is gone (someone killed it): start another, once. */
    if (r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN) {
      stop_zygote();
      continue;
    }
    break;
  }
  pthread_mutex_unlock(&lock);
  return r;
}
