/* Keeps a process (and its descendants) from making user namespaces, and
 * netlink sockets of any protocol but NETLINK_ROUTE; see no_userns.c. */
#ifndef IK_NO_USERNS_H
#define IK_NO_USERNS_H

/* Installs the filter: 0, or -1 with errno (EINVAL: no seccomp filters in this kernel). */
int ik_deny_user_namespaces(void);

#endif
