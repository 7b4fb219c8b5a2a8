/* Bringing up `lo` in the caller's network namespace: init does it for a
 * namespace it creates, the addon for the ones it prepares ahead. */
#ifndef IK_LOOPBACK_H
#define IK_LOOPBACK_H

#ifdef __cplusplus
extern "C" {
#endif

/* Returns 0, or -1 with errno set. */
int ik_loopback_up(void);

#ifdef __cplusplus
}
#endif

#endif
