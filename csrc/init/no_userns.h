/* Keeps a process (and its descendants) from making user namespaces, and
 * netlink sockets of any protocol but NETLINK_ROUTE; see no_userns.c. */
#ifndef IK_NO_USERNS_H
#define IK_NO_USERNS_H

/* Installs the filter: 0, or -1 with errno (EINVAL: no seccomp filters in
 * this kernel). Where the kernel allows it (and no filter above has a
 * listener), NETLINK_ROUTE sockets and buffer-size changes go to init:
 * *listener is then the fd to answer them on (netlink_guard.h), otherwise
 * -1 and the filter lets them through. `refuse_netlink`: init refuses
 * every NETLINK_ROUTE socket (ik_netlink_guard_ready()). */
int ik_deny_user_namespaces(int *listener, int refuse_netlink);

#endif
