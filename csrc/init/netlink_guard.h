/* init's answers to the calls its seccomp filter sends it: a cap on a
 * container's NETLINK_ROUTE sockets and their receive buffers, whose queues
 * no memory cgroup is charged for. See netlink_guard.c. */
#ifndef IK_NETLINK_GUARD_H
#define IK_NETLINK_GUARD_H

#include <stdint.h>

/* NETLINK_ROUTE sockets a container may hold at once. */
#define IK_NETLINK_SOCKETS_MAX 16

/* Whether this kernel lets init answer (Linux 5.9), with the secret drawn:
 * called once, before the filter is installed. 1 or 0. With `refuse_all`,
 * every NETLINK_ROUTE socket is refused (ENOBUFS): the parent asks that
 * while sockets of ended containers are still open (netlink_ledger.h). */
int ik_netlink_guard_ready(int refuse_all);

/* Drawn by ik_netlink_guard_ready(), never 0: the high halves of the level
 * and name of init's own setsockopt(), which its filter lets through. */
extern uint32_t ik_netlink_guard_secret[2];

/* The epoll set to count the container's sockets in, made by the parent,
 * which keeps it past the container's end (fd 5 of init). */
void ik_netlink_guard_count_in(int set);

/* Answers one call waiting on `listener` (the filter's listener fd).
 * `report` is the control socket to the parent, which hears
 * (IK_MSG_NETLINK) before the first socket goes into the set. */
void ik_netlink_guard_answer(int listener, int report);

#endif
