/* A Landlock domain of init's own, which every process it starts inherits:
 * the container's processes cannot ptrace (read the memory, environ or fds
 * of) any process outside it, and, where the kernel can scope (Landlock
 * ABI 6, Linux 6.12), cannot signal one, nor connect to an abstract Unix
 * socket bound outside it. Why: where a container has no pid namespace of
 * its own, or no mount namespace (the host's /proc), it sees the host's
 * processes, and as the same uid (the default nobody) the kernel would let
 * it into other containers' payloads; with the host's network it shares
 * the host's abstract sockets (containerd's shim API was one:
 * CVE-2020-15257), through which it could also pass sockets out. */
#ifndef IK_LANDLOCK_SCOPE_H
#define IK_LANDLOCK_SCOPE_H

/* How (IK_OP_LANDLOCK num0; the Node side picks it from the kernel's ABI). */
enum ik_landlock_mode {
  /* ABI 6+: a domain that scopes signals and abstract Unix sockets and
   * handles no file access, so that nothing inside changes but what
   * crosses the container's edge. */
  IK_LANDLOCK_SCOPE = 1,
  /* ABI 2-5: the domain must handle a file access to exist; it handles
   * LANDLOCK_ACCESS_FS_REFER (renames and links across directories) and
   * grants it beneath "/", so files behave as before. Such a domain also
   * refuses mount(2) and pivot_root, which is why the Node side does not
   * ask for it where the payload may mount (CAP_SYS_ADMIN, or no seccomp
   * filter and so user namespaces). */
  IK_LANDLOCK_REFER = 2,
};

/* Restricts init itself (called once its own setup is done). Returns 0, or
 * -1 with errno set. */
int ik_landlock_scope(int mode);

#endif
