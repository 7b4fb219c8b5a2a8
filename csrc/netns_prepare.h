/* Preparing a new network namespace before anything runs in it: init does
 * it for a namespace it creates, the addon for the ones it makes ahead
 * (netns_pool.c). */
#ifndef IK_NETNS_PREPARE_H
#define IK_NETNS_PREPARE_H

#ifdef __cplusplus
extern "C" {
#endif

/* The initial TCP receive buffer (net.ipv4.tcp_rmem's middle value) new
 * sockets in a container's namespace get; the kernel's default is 128 KiB.
 * Autotuning still grows a buffer up to tcp_rmem's maximum as the
 * connection's traffic needs. */
#define IK_TCP_RCVBUF_DEFAULT 16384

/*
 * Lowers tcp_rmem's default to IK_TCP_RCVBUF_DEFAULT, then brings `lo` up,
 * in the caller's network namespace; does nothing where `lo` is up already
 * (a namespace the addon prepared). Why the buffer: the kernel charges the
 * first segment queued on an empty receive queue to the socket's cgroup
 * even past its limit, and a receive window of the default size lets that
 * segment be ~113 KiB, so a payload holding thousands of connections it
 * never reads could keep many times its memory limit in the kernel
 * (cgroup v1, where socket buffers are a counter of their own that never
 * triggers the OOM killer). With 16 KiB it is ~5 KiB, less than the socket
 * itself, which is charged as memory.
 *
 * Returns 0, or -1 with errno set and *syscall the IK_SC_* that failed.
 */
int ik_netns_prepare(int *syscall);

#ifdef __cplusplus
}
#endif

#endif
