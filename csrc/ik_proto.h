/* Messages on the control socket (SOCK_SEQPACKET) between init and the
 * Node process. One struct per datagram; fds travel as SCM_RIGHTS.
 * Keep in sync with lib/native.ts.
 */
#ifndef IK_PROTO_H
#define IK_PROTO_H

#include <stdint.h>

/* init -> parent */
enum ik_msg_type {
  IK_MSG_READY = 1, /* process `id` exec'd (a = its pid inside), or the container is set up (id = IK_ID_CONTAINER) */
  IK_MSG_FAIL = 2,  /* process `id` (or the container, id = 0xffffffff) failed: a = op index, b = IK_SC_*, c = errno */
  IK_MSG_EXIT = 3,  /* process `id` ended: a = wait status; utime/stime in usec, maxrss in KiB */
  IK_MSG_HOLD = 4,  /* the container's IK_OP_HOLD directory (the writable layer), as an O_PATH fd;
                       once, before READY (the addon passes JS the fd, never `a`) */
  IK_MSG_NETLINK = 5, /* init is about to put its first netlink socket in the set on fd 5
                         (init/netlink_guard.c): the parent, which made the set, keeps it past
                         the container's end while any is still open elsewhere (netlink_ledger.h) */
};

#define IK_ID_CONTAINER 0xffffffffu

struct ik_msg {
  uint32_t type;
  uint32_t id;
  int32_t a, b, c, d;
  int64_t utime_us, stime_us, maxrss_kb;
  int64_t t_ns; /* CLOCK_MONOTONIC when it happened (READY: exec'd; EXIT: reaped) */
};

/* parent -> init */
enum ik_req_type {
  IK_REQ_SPAWN = 1,  /* start process `id`; fds: stdin, stdout, stderr, plan pipe */
  IK_REQ_SIGNAL = 2, /* send `sig` to process `id`, or to every process if id = IK_ID_CONTAINER */
};

struct ik_req {
  uint32_t type;
  uint32_t id;
  int32_t sig;
  uint32_t flags; /* IK_REQ_F_* */
};

#define IK_REQ_F_TREE 0x1u /* SIGNAL: to the process and every process descended from it */
/* Node -> init, as a signal (pidfd), not a request: kill every process and
 * exit. Without a pid namespace init's death takes nothing along, and a
 * request could wait behind hundreds of spawns in the control socket; a
 * signal is read first. A real-time signal init blocks and reads from its
 * signalfd (glibc keeps 32-34 for itself), taken from its parent only. */
#define IK_SIG_END 40

/* Node -> zygote (fd 3 of the zygote): clone a container init with
 * `clone_flags` (CLONE_NEW*); fds: stdin, stdout, stderr, plan pipe, the
 * init's end of its control socket, the netlink set (IK_MSG_NETLINK), then optionally a network namespace to
 * join, a cgroup v2 directory to clone into (CLONE_INTO_CGROUP), and
 * `n_cgroup_join` files the child writes "0" to before anything else (v1:
 * each hierarchy's `tasks`; v2 where clone3 cannot place it: cgroup.procs). The reply carries
 * the pid (or -errno) and, as SCM_RIGHTS, a pidfd. */
struct ik_zygote_req {
  uint64_t clone_flags;
  uint32_t has_netns;
  uint32_t has_cgroup_dir;
  uint32_t n_cgroup_join;
  uint32_t reserved;
};

/* Most cgroup.procs files one container joins (one per v1 hierarchy). */
#define IK_MAX_CGROUP_JOIN 10

struct ik_zygote_rep {
  int32_t pid; /* > 0, or -errno */
  int32_t reserved;
};

/* Exit statuses of init itself that mean "no payload status": the parent
 * learns the real cause from an IK_MSG_FAIL record. */
#define IK_INIT_EXIT_SETUP_FAILED 125

#endif
