#define _GNU_SOURCE
#include "quiet_thread.h"

#include <pthread.h>
#include <signal.h>

int ik_quiet_thread(void *(*fn)(void *)) {
  /* The new thread inherits the mask in force when it is made. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t t;
  int r = pthread_create(&t, NULL, fn, NULL);
  if (r == 0)
    pthread_detach(t);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return r == 0 ? 0 : -1;
}
