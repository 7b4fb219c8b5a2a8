/* SIGKILL to every process of a container's pid namespace, from outside.
 *
 * A container whose processes are not all in a group of its own (a
 * caller's shared CGroup, or none) has no cgroup.kill of its own: its end
 * was init's to carry out, init's exit killing the namespace. Among a
 * payload's thousand runnable processes init is one task of a thousand in
 * the group's CPU share, and each step (its tree walk, its exit) waited a
 * second while they all ran. This kills them from the Node process instead,
 * finding them by their pid namespace in the host's /proc. */
#ifndef IK_PIDNS_KILL_H
#define IK_PIDNS_KILL_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Sends SIGKILL to every process in the pid namespace that `init_pid` (our
 * child, not yet reaped, `init_pidfd` its pidfd) is PID 1 of; init itself
 * too unless `spare_init`, and then first, once its namespace is read: an
 * init that saw the others die before its own SIGKILL came would exit on
 * its own, with their status (a stop()'s SIGTERM: 143), where a kill must
 * read as SIGKILL. Rounds of reading /proc until one
 * finds nothing new to kill (at most 32): a process forked while a round
 * reads is found by the next. Each process is signalled through a pidfd
 * opened before its namespace is checked, so a pid reused meanwhile is
 * never signalled. Returns how many processes were signalled, or -errno
 * when the namespace cannot be told (init gone, no /proc). */
int ik_pidns_kill(int init_pidfd, pid_t init_pid, int spare_init);

/* SIGKILL to the process numbered `root` in that namespace, to every
 * process descended from it and to its process group, as init's own tree
 * walk does (csrc/init/main.c, signal_tree): each is stopped first, through
 * a pidfd held until the end, and the tree read again until nothing new
 * appears, then all are killed. A tree of 4096 processes or more is let go
 * (SIGCONT) and left to init's walk. Returns how many were killed (0: the
 * root is gone), or -errno (-E2BIG: let go). */
int ik_pidns_kill_tree(int init_pidfd, pid_t init_pid, pid_t root);

#ifdef __cplusplus
}
#endif

#endif
