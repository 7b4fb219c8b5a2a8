/* One message plus fds over a Unix socket (SCM_RIGHTS), in both directions:
 * the addon and init, the addon and the zygote. */
#ifndef IK_FDPASS_H
#define IK_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IK_FDPASS_MAX 18

/* sendmsg() of `len` bytes with `nfds` fds (0 for none), retried on EINTR,
 * without SIGPIPE. Returns the bytes sent or -1 (errno). */
ssize_t ik_send_fds(int sock, const void *buf, size_t len, const int *fds, int nfds);

/* recvmsg() of up to `len` bytes; received fds (close-on-exec) go to
 * fds[0..*nfds), at most `max` of them: extra ones are closed, and a
 * truncated control message sets *nfds to -1 after closing what came.
 * `flags` adds to recvmsg's (e.g. MSG_DONTWAIT). Returns the bytes received,
 * 0 at EOF, or -1 (errno; EINTR is retried). */
ssize_t ik_recv_fds(int sock, void *buf, size_t len, int *fds, int max, int *nfds, int flags);

/* ik_recv_fds(), but the fds it does not return go to drop() instead of
 * close(): the addon closes what init sends unasked on a thread, since a
 * close can block (a socket lingering on unsent data). The control buffer
 * has room for every fd a message can carry, so the kernel drops none for
 * want of room (its close of those would run here); it still drops those
 * it cannot install (our fd table full), a truncation (*nfds = -1). */
ssize_t ik_recv_fds_drop(int sock, void *buf, size_t len, int *fds, int max, int *nfds, int flags,
                         void (*drop)(int));

#ifdef __cplusplus
}
#endif

#endif
