/* Keeps a process (and its descendants) from making user namespaces, and
 * netlink sockets of any protocol but NETLINK_ROUTE; see no_userns.c. */
#ifndef IK_NO_USERNS_H
#define IK_NO_USERNS_H

/* Installs the filter: 0, or -1 with errno (EINVAL: no seccomp filters in
 * this kernel). With guard_netlink (the container has a network namespace
 * of its own) and a kernel that allows it, NETLINK_ROUTE sockets and
 * receive-buffer changes go to init: *listener is then the fd to answer
 * them on (netlink_guard.h), otherwise -1. */
int ik_deny_user_namespaces(int guard_netlink, int *listener);

#endif
