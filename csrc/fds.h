/* Moving a child's fds into place before exec (or before init runs). */
#ifndef IK_FDS_H
#define IK_FDS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Makes src[i] fd number i for i < n, without clobbering (all sources are
 * moved out of 0..n-1 first), clears close-on-exec on them, and closes every
 * fd >= n. Async-signal-safe: raw syscalls only. Returns 0 or -1 (errno). */
int ik_place_fds(int *src, int n);

#ifdef __cplusplus
}
#endif

#endif
