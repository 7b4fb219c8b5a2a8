/* The netlink sockets of ended containers that are still open somewhere.
 *
 * init counts a container's NETLINK_ROUTE sockets, whose queues no memory
 * cgroup is charged for, in an epoll set (init/netlink_guard.c) the addon
 * made and passed it, and says when the first goes in (IK_MSG_NETLINK). A
 * socket passed out of the
 * container (SCM_RIGHTS, over a Unix socket another container reaches)
 * outlives it; its entry stays in the set until its last close. So a set
 * is kept here after its container ends, for as long as it is not empty,
 * and new containers get no netlink socket while these number
 * IK_NETLINK_ORPHANS_MAX or more: what is uncharged then grows with the
 * containers alive, not with every container ever started. */
#ifndef IK_NETLINK_LEDGER_H
#define IK_NETLINK_LEDGER_H

#include "init/netlink_guard.h"

/* Sockets of ended containers at which new containers get none: what four
 * more containers may hold. Not one: sockets a payload left in a cycle of
 * Unix sockets sending each other (SCM_RIGHTS) are freed by the kernel's
 * garbage collector, on a worker, 4-7 ms after the container's end (Linux
 * 6.18; 6.1 collects them as the last socket closes); with room for one
 * container's only, the next start was refused while they were alive. */
#define IK_NETLINK_ORPHANS_MAX (4 * IK_NETLINK_SOCKETS_MAX)

#ifdef __cplusplus
extern "C" {
#endif

/* Takes `set`, the set of a container that has ended (-1: none): closes it
 * when it holds no netlink socket, else keeps it. Only sockets count, and
 * not those this process has open itself: init, with every capability,
 * could put any file in the set, the caller's own stdout say, open for
 * good. Kept sets are recounted meanwhile, and those emptied closed. */
void ik_netlink_ledger_keep(int set);

/* Sockets of ended containers still open: an upper bound (a set only
 * loses entries), recounted when it reaches IK_NETLINK_ORPHANS_MAX or when
 * `exact`. */
int ik_netlink_ledger_count(int exact);

#ifdef __cplusplus
}
#endif

#endif
