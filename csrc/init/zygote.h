/* The zygote: a long-lived copy of init that forks container inits on
 * request, so a container start costs a fork of this small process instead
 * of an exec (csrc/init/zygote.c). */
#ifndef IK_ZYGOTE_H
#define IK_ZYGOTE_H

/* Serves requests on fd 3 until it hangs up; each child runs container_main. */
void __attribute__((noreturn)) ik_zygote_main(void (*container_main)(void));

#endif
