/* A container's mount namespace, let go of off the event loop.
 *
 * When the last process of a mount namespace exits, the kernel unmounts
 * its tree and waits for an expedited RCU grace period before it frees the
 * mounts (namespace_unlock), all inside that process's exit: its parent
 * hears of the exit only after. For a container that is init's exit, so
 * every start paid ~0.1 ms here before its end was seen. Holding a
 * reference to the namespace (its nsfs fd) moves that work to whoever drops
 * the last one: a background thread, after init has been reaped. */
#ifndef IK_MNTNS_RELEASE_H
#define IK_MNTNS_RELEASE_H

#ifdef __cplusplus
extern "C" {
#endif

/* An fd holding `pid`'s mount namespace (O_CLOEXEC), or -1 (no /proc, no
 * permission, already gone: the namespace then goes with the process, as
 * without this). `pid` must be our child not yet reaped, so that it cannot
 * be another process's. */
int ik_mntns_hold(int pid);

/* Closes `fd` on the background thread (inline if that thread cannot run). */
void ik_release_later(int fd);

#ifdef __cplusplus
}
#endif

#endif
