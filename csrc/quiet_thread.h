/* The addon's own background threads (network namespaces made ahead, mount
 * namespaces let go): detached, with every signal blocked, so that no
 * signal handler of Node's ever runs on them. */
#ifndef IK_QUIET_THREAD_H
#define IK_QUIET_THREAD_H

#ifdef __cplusplus
extern "C" {
#endif

/* Starts `fn` on such a thread: 0, or -1 when no thread could be made. */
int ik_quiet_thread(void *(*fn)(void *));

#ifdef __cplusplus
}
#endif

#endif
