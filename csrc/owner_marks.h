/* Process-wide owner marks (lib/cgroup/owner.ts says what they are for):
 * one locked directory per path for the whole process, whichever thread
 * asked first, so that a worker thread ended by terminate() (which runs no
 * exit hook of its own) leaves no fd behind, and the process's exit lets
 * every mark go (the main thread's exit hook, and an atexit() handler for a
 * process whose marks only workers made). */
#ifndef IK_OWNER_MARKS_H
#define IK_OWNER_MARKS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Makes `path` (mode 0700) if missing, opens it and holds a shared flock()
 * on it for as long as the process lives: the fd, or -errno. Once per path:
 * later calls return the same fd. */
int ik_mark_hold(const char *path);

/* Up to `max` held marks: their paths (the table's own strings, valid until
 * released) and fds; returns how many are held. */
int ik_marks_list(const char **paths, int *fds, int max);

/* Closes the mark at `path` (every mark when NULL) and, with `remove`,
 * removes its directory. */
void ik_marks_release(const char *path, int remove);

#ifdef __cplusplus
}
#endif

#endif
