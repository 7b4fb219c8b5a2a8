/* Fresh network namespaces made ahead of time, off the event loop.
 *
 * Creating one costs about half a millisecond of kernel work (every
 * per-namespace subsystem initializes). A background thread keeps a couple
 * ready, with `lo` up; a container joins one with setns() instead of passing
 * CLONE_NEWNET. Each is used by exactly one container, never shared. */
#ifndef IK_NETNS_POOL_H
#define IK_NETNS_POOL_H

#ifdef __cplusplus
extern "C" {
#endif

/* A fresh namespace's fd (the caller owns it), or -1 when none is ready. */
int ik_netns_take(void);

/* Asks the background thread to top the pool up (call after the clone, so
 * its work does not compete with it). */
void ik_netns_refill(void);

#ifdef __cplusplus
}
#endif

#endif
