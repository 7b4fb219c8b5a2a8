/* Runs a command the way Node runs under a seccomp supervisor of its own
 * (a container engine's, say): under a filter that has a listener. The
 * kernel allows one listener per chain of filters, so init's own (see
 * csrc/init/netlink_guard.c) cannot be made below it: test/integration/
 * cgroup-netlink.test.ts checks that containers still start, with the
 * filter allowing what init would have answered.
 *
 * The filter sends acct() (which nothing here calls) to the listener, which
 * this process holds and never reads; everything else is allowed.
 *
 *   gcc -std=gnu11 -O1 -Wall -Wextra -o outer_listener test/native/outer_listener.c
 *   outer_listener CMD [ARGS...]     exits with CMD's status
 */
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int send_fd(int sock, int fd) {
  char c = 0;
  struct iovec iov = {&c, 1};
  char ctl[CMSG_SPACE(sizeof fd)];
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
  struct cmsghdr *h = CMSG_FIRSTHDR(&m);
  h->cmsg_level = SOL_SOCKET;
  h->cmsg_type = SCM_RIGHTS;
  h->cmsg_len = CMSG_LEN(sizeof fd);
  memcpy(CMSG_DATA(h), &fd, sizeof fd);
  return sendmsg(sock, &m, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock) {
  char c;
  struct iovec iov = {&c, 1};
  char ctl[CMSG_SPACE(sizeof(int))];
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
  if (recvmsg(sock, &m, 0) != 1 || CMSG_FIRSTHDR(&m) == NULL)
    return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof fd);
  return fd;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s CMD [ARGS...]\n", argv[0]);
    return 2;
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return 2;
  pid_t pid = fork();
  if (pid == 0) {
    struct sock_filter insns[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_acct, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof insns / sizeof insns[0], insns};
    int listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    if (listener < 0 || send_fd(sv[1], listener) < 0) {
      perror("outer_listener: seccomp");
      _exit(2);
    }
    close(listener);
    execvp(argv[1], argv + 1);
    perror("outer_listener: exec");
    _exit(127);
  }
  int listener = recv_fd(sv[0]); /* held, never read: acct() would wait */
  int st;
  while (waitpid(pid, &st, 0) < 0)
    ;
  close(listener);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
