/* How many files an epoll set watches, from its /proc fdinfo: the count of
 * a container's netlink sockets while it runs (init/netlink_guard.c; after
 * its end netlink_ledger.c tells the sockets from other files). */
#ifndef IK_EPOLL_ENTRIES_H
#define IK_EPOLL_ENTRIES_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Reads `fdinfo` (an open /proc/.../fdinfo/N of an epoll set) into `buf`
 * (of `size`, NUL-terminated) to its end and closes it: its length, or -1
 * when it cannot be read or does not fit. */
long ik_epoll_fdinfo(int fdinfo, char *buf, size_t size);

/* Reads `fdinfo` (an open /proc/.../fdinfo/N of an epoll set) to its end
 * and closes it: its "tfd:" lines, one per entry, or -1 when it cannot be
 * read or holds more than a set of ours ever does (8 KiB, ~80 entries). */
long ik_epoll_entries(int fdinfo);

#ifdef __cplusplus
}
#endif

#endif
