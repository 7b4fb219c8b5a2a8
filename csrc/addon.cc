// The only nan file: argument checks, marshalling, and the per-container
// watcher that turns init's pidfd and control socket into JS callbacks.
// Policy (defaults, validation, plans) lives in lib/; see lib/native.ts for
// the typed view of these exports.

#include <nan.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "compat.h"
#include <sched.h>
#include "ik_plan.h"
#include "ik_proto.h"
#include "cgroup_devices.h"
#include "cgroup_dirs.h"
#include "owner_marks.h"
#include "fdpass.h"
#include "mntns_release.h"
#include "netlink_ledger.h"
#include "seccomp_compile.h"
#include "netns_pool.h"
#include "pidns_kill.h"
#include "spawn.h"
#include "zygote_client.h"

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#define MFD_ALLOW_SEALING 0x0002U
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_SEAL_SEAL 0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#define F_SEAL_WRITE 0x0008
#endif

namespace {

// Event codes passed to the JS callback: IK_MSG_* for init's records, and:
const int kEventInitExit = 100;  // a = si_code (CLD_*), b = si_status

// Process-wide state shared by every JS thread (worker_threads included).
std::mutex g_mutex;
int g_init_fd = -1;
int g_null_fd = -1;
int g_self_pidfd = -2;  // -2: not tried yet
struct stat g_mntns;
bool g_have_mntns = false;

// Container inits come from the zygote (a fork instead of an exec per start);
// ISOLATE_KIT_NO_ZYGOTE=1 clones and execs init directly from here instead.
bool UseZygote() {
  static const bool use = [] {
    const char* v = getenv("ISOLATE_KIT_NO_ZYGOTE");
    return v == nullptr || strcmp(v, "1") != 0;
  }();
  return use;
}

v8::Local<v8::Value> ErrnoError(int err, const char* syscall, const char* message = nullptr) {
  return Nan::ErrnoException(err, syscall, message ? message : strerror(err));
}

void CloseFd(int* fd) {
  if (*fd >= 0) {
    close(*fd);
    *fd = -1;
  }
}

int WriteAll(int fd, const void* buf, size_t len) {
  const char* p = static_cast<const char*>(buf);
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return 0;
}

// Copies the init binary into a sealed memfd once: containers exec this
// immutable copy, so replacing the file on disk (or a payload reaching
// /proc/<init>/exe) cannot change what runs as PID 1.
int LoadInit(const char* path, const char** failed) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_init_fd >= 0) return 0;
  *failed = "open";
  int src = open(path, O_RDONLY | O_CLOEXEC);
  if (src < 0) return -errno;
  struct stat st;
  if (fstat(src, &st) < 0) {
    int e = errno;
    close(src);
    return -e;
  }
  *failed = "memfd_create";
  int mfd = static_cast<int>(
      syscall(SYS_memfd_create, "isolate-kit-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC));
  if (mfd < 0 && errno == EINVAL)  // kernels before 6.3 do not know MFD_EXEC
    mfd = static_cast<int>(syscall(SYS_memfd_create, "isolate-kit-init", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (mfd < 0) {
    // No memfd (or vm.memfd_noexec=2): exec the file itself.
    g_init_fd = src;
    return 0;
  }
  *failed = "read";
  char buf[65536];
  ssize_t n;
  while ((n = read(src, buf, sizeof buf)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    int r = n < 0 ? -errno : WriteAll(mfd, buf, static_cast<size_t>(n));
    if (r < 0) {
      close(src);
      close(mfd);
      return r;
    }
  }
  close(src);
  fchmod(mfd, 0555);
  *failed = "fcntl";
  if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
    int e = errno;
    close(mfd);
    return -e;
  }
  g_init_fd = mfd;
  return 0;
}

// Lazily opened process-wide fds: /dev/null for 'ignore', our own pidfd for
// the child's parent-death check, our mount namespace for init's refusal to
// mount in it.
int Prepare(const char** failed) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_null_fd < 0) {
    *failed = "open /dev/null";
    g_null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (g_null_fd < 0) return -errno;
  }
  if (g_self_pidfd == -2) {
    g_self_pidfd = ik_pidfd_open(getpid());
    if (g_self_pidfd < 0) g_self_pidfd = -1;  // pre-5.3 kernel: the race check is skipped
  }
  if (!g_have_mntns) {
    *failed = "stat /proc/self/ns/mnt";
    if (stat("/proc/self/ns/mnt", &g_mntns) < 0) return -errno;
    g_have_mntns = true;
  }
  return 0;
}

// A pipe holding the spawn header and the plan, fully written before the
// child exists, so nobody ever waits on anybody. Returns the read end. A
// plan larger than a pipe's default 64 KiB (a long environment, many
// mounts) goes in a memfd instead: a pipe grows only to fs.pipe-max-size
// (1 MiB by default) without CAP_SYS_RESOURCE, a memfd as far as
// IK_PLAN_MAX_BYTES; init reads either the same way.
int PlanPipe(const char* plan, size_t len, const char** failed) {
  struct ik_spawn_header h;
  memset(&h, 0, sizeof h);
  h.magic = IK_SPAWN_MAGIC;
  h.plan_length = static_cast<uint32_t>(len);
  h.host_mntns_dev = g_mntns.st_dev;
  h.host_mntns_ino = g_mntns.st_ino;
  if (sizeof h + len > 65536) {
    *failed = "memfd_create";
    // Never executable: MFD_NOEXEC_SEAL (0x8) where the kernel knows it
    // (6.3; vm.memfd_noexec=2 refuses a memfd without it).
    int fd = static_cast<int>(syscall(SYS_memfd_create, "isolate-kit-plan", MFD_CLOEXEC | 0x8U));
    if (fd < 0 && errno == EINVAL) fd = static_cast<int>(syscall(SYS_memfd_create, "isolate-kit-plan", MFD_CLOEXEC));
    if (fd < 0) return -errno;
    *failed = "write";
    int r = WriteAll(fd, &h, sizeof h);
    if (r == 0) r = WriteAll(fd, plan, len);
    if (r == 0 && lseek(fd, 0, SEEK_SET) < 0) {
      *failed = "lseek";
      r = -errno;
    }
    if (r < 0) {
      close(fd);
      return r;
    }
    return fd;
  }
  int p[2];
  *failed = "pipe2";
  if (pipe2(p, O_CLOEXEC) < 0) return -errno;
  *failed = "write";
  int r = WriteAll(p[1], &h, sizeof h);
  if (r == 0) r = WriteAll(p[1], plan, len);
  close(p[1]);
  if (r < 0) {
    close(p[0]);
    return r;
  }
  return p[0];
}

// stdio spec per fd: >= 0 use that fd, -1 make a pipe (the parent end is
// returned), -2 /dev/null. child[] gets the fds the container receives,
// owned[] the ones we must close once they are handed over.
struct Stdio {
  int child[3] = {-1, -1, -1};
  int parent[3] = {-1, -1, -1};
  int owned[3] = {-1, -1, -1};
  void CloseAll() {
    for (int i = 0; i < 3; i++) {
      CloseFd(&parent[i]);
      CloseFd(&owned[i]);
    }
  }
  void CloseOwned() {
    for (int i = 0; i < 3; i++) CloseFd(&owned[i]);
  }
};

int MakeStdio(v8::Local<v8::Array> spec, Stdio* s, const char** failed) {
  for (uint32_t i = 0; i < 3; i++) {
    int v = Nan::To<int32_t>(Nan::Get(spec, i).ToLocalChecked()).FromJust();
    if (v >= 0) {
      s->child[i] = v;
    } else if (v == -2) {
      s->child[i] = g_null_fd;
    } else {
      int p[2];
      *failed = "pipe2";
      if (pipe2(p, O_CLOEXEC) < 0) {
        int e = errno;
        s->CloseAll();
        return -e;
      }
      // fd 0 is read by the container; 1 and 2 are written by it.
      int child_end = i == 0 ? p[0] : p[1];
      int parent_end = i == 0 ? p[1] : p[0];
      s->child[i] = child_end;
      s->owned[i] = child_end;
      s->parent[i] = parent_end;
    }
  }
  return 0;
}

v8::Local<v8::Array> StdioArray(const Stdio& s) {
  v8::Local<v8::Array> a = Nan::New<v8::Array>(3);
  for (uint32_t i = 0; i < 3; i++) Nan::Set(a, i, Nan::New(s.parent[i]));
  return a;
}

// Watches one container: its init's pidfd (exit) and control socket
// (records). Lives until init has exited and both polls are closed.
class Watch : public Nan::ObjectWrap {
 public:
  // The ContainerHandle constructor of this isolate (each worker has its own).
  static v8::Local<v8::Function> Init() {
    v8::Local<v8::FunctionTemplate> t = Nan::New<v8::FunctionTemplate>(New);
    t->SetClassName(Nan::New("ContainerHandle").ToLocalChecked());
    t->InstanceTemplate()->SetInternalFieldCount(1);
    Nan::SetPrototypeMethod(t, "signal", Signal);
    Nan::SetPrototypeMethod(t, "signalProcess", SignalProcess);
    Nan::SetPrototypeMethod(t, "killNamespace", KillNamespace);
    Nan::SetPrototypeMethod(t, "killTree", KillTree);
    Nan::SetPrototypeMethod(t, "spawnProcess", SpawnProcess);
    Nan::SetPrototypeMethod(t, "ref", JsRef);
    Nan::SetPrototypeMethod(t, "unref", JsUnref);
    Nan::SetPrototypeMethod(t, "close", Close);
    Nan::SetPrototypeMethod(t, "removeAtTeardown", RemoveAtTeardown);
    return Nan::GetFunction(t).ToLocalChecked();
  }

  static NAN_METHOD(New) {
    if (!info.IsConstructCall()) return Nan::ThrowTypeError("Usage: new ContainerHandle()");
    Watch* w = new Watch();
    w->Wrap(info.This());
    info.GetReturnValue().Set(info.This());
  }

  void Start(int pid, int pidfd, int ctrl, v8::Local<v8::Function> cb) {
    pid_ = pid;
    pidfd_ = pidfd;
    ctrl_ = ctrl;
    callback_.Reset(cb);
    async_ = new Nan::AsyncResource("isolate-kit:container");
    uv_loop_t* loop = Nan::GetCurrentEventLoop();
    pid_poll_ = new uv_poll_t;
    ctrl_poll_ = new uv_poll_t;
    uv_poll_init(loop, pid_poll_, pidfd_);
    uv_poll_init(loop, ctrl_poll_, ctrl_);
    pid_poll_->data = this;
    ctrl_poll_->data = this;
    uv_poll_start(pid_poll_, UV_READABLE, OnPidfd);
    uv_poll_start(ctrl_poll_, UV_READABLE | UV_DISCONNECT, OnCtrl);
    ctrl_polling_ = true;
    Ref();  // JS may drop its reference; we call back until init exits.
    // A worker thread can end with its containers running: they go with it.
    node::AddEnvironmentCleanupHook(v8::Isolate::GetCurrent(), OnEnvCleanup, this);
  }

 private:
  // async_ is freed in OnClosed, on the loop: AsyncResource's destructor
  // emits async_hooks' destroy, which must not run inside a GC callback.
  ~Watch() override { callback_.Reset(); }

  void Emit(int argc, v8::Local<v8::Value>* argv) {
    Nan::HandleScope scope;
    async_->runInAsyncScope(handle(), callback_.GetFunction(), argc, argv);
  }

  void EmitMsg(const ik_msg& m) {
    Nan::HandleScope scope;
    v8::Local<v8::Value> argv[] = {
        Nan::New(static_cast<int32_t>(m.type)), Nan::New(static_cast<uint32_t>(m.id)),
        Nan::New(m.a), Nan::New(m.b), Nan::New(m.c),
        Nan::New(static_cast<double>(m.utime_us)), Nan::New(static_cast<double>(m.stime_us)),
        Nan::New(static_cast<double>(m.maxrss_kb)), Nan::New(static_cast<double>(m.t_ns) / 1e6)};
    Emit(9, argv);
  }

  // Records handled per wake-up of the control poll. init sends a few per
  // process, but one that floods (a compromised init) must not hold the
  // loop: uv_poll is level-triggered, so what is left wakes it again once
  // the loop has run everything else.
  static const int kRecordsPerWake = 64;
  // Records read at init's end (what it sent before exiting): a queue holds
  // net.unix.max_dgram_qlen (10 by default) and a correct init waits when it
  // is full; the bound is for leftover senders outside a pid namespace.
  static const int kRecordsAtEnd = 4096;

  // An fd init sent that we do not keep: closed on the closer thread, as
  // closing can block (a socket lingering on unsent data); without lingering
  // in case that thread is held up and the close happens here.
  static void DropFd(int fd) {
    struct linger now = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &now, sizeof now);  // ENOTSOCK for other files
    ik_release_later(fd);
  }

  // Reads up to `limit` queued records; returns false on EOF. Records that
  // make no sense for the container's state are dropped here, before JS
  // (one HOLD, before the setup ends; one READY or FAIL of the container).
  // A HOLD goes to JS with the fd that came with it as `a` (JS then owns
  // it), or -1, never init's number: b = 1 when an fd was dropped on its way
  // (our fd table full). Any other fd is dropped.
  bool DrainCtrl(int limit) {
    for (int k = 0; k < limit; k++) {
      ik_msg m;
      int fd = -1, nfds = 0;
      ssize_t n = ik_recv_fds_drop(ctrl_, &m, sizeof m, &fd, 1, &nfds, MSG_DONTWAIT, DropFd);
      if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
      if (n == 0) return false;
      int got = nfds == 1 ? fd : -1;
      bool emit = false;
      if (n != static_cast<ssize_t>(sizeof m) || closed_) {
        // a short record, or nobody listens
      } else if (m.type == IK_MSG_HOLD) {
        if (!held_ && !set_up_) {
          held_ = true;
          emit = true;
          struct stat st;
          if (got >= 0 && (fstat(got, &st) < 0 || !S_ISDIR(st.st_mode))) {
            DropFd(got);  // not the directory init opens (O_PATH): no layer
            got = -1;
          }
          m.a = got;
          m.b = nfds < 0;
          got = -1;
        }
      } else if (m.type == IK_MSG_NETLINK) {
        netlink_used_ = true;  // the set is ours already (Spawn)
      } else if (m.type == IK_MSG_READY || m.type == IK_MSG_FAIL) {
        // The container's own record ends its setup, and so does its main
        // process's (which starts after it): a container's record after
        // that is not init's to send.
        emit = m.id != IK_ID_CONTAINER || !set_up_;
        set_up_ = true;
      } else if (m.type == IK_MSG_EXIT) {
        emit = m.id != IK_ID_CONTAINER;
      }
      if (got >= 0) DropFd(got);
      if (emit) EmitMsg(m);
    }
    return true;
  }

  void StopCtrl() {
    if (ctrl_polling_) {
      uv_poll_stop(ctrl_poll_);
      ctrl_polling_ = false;
    }
    DropPending();  // init reads no more
  }

  // A request waiting for room in init's queue, with duplicates of its fds.
  struct PendingReq {
    ik_req req;
    int fds[4];
    int nfds;
  };

  // Sends a request to init, in order. init's end of the socket holds
  // net.unix.max_dgram_qlen records (10 by default), and a burst of exec()s
  // fills it: a request that finds it full, and every one after it (a kill
  // must not pass the spawn it is for), waits here with duplicates of its
  // fds, and goes as init makes room (the poll asks for UV_WRITABLE then).
  // Returns 0 (sent or queued) or an errno.
  int Send(const ik_req& req, const int* fds, int nfds) {
    if (pending_.empty()) {
      if (ik_send_fds(ctrl_, &req, sizeof req, fds, nfds) >= 0) return 0;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return errno;
    }
    PendingReq p;
    p.req = req;
    p.nfds = 0;
    for (int k = 0; k < nfds; k++) {
      int d = fcntl(fds[k], F_DUPFD_CLOEXEC, 3);
      if (d < 0) {
        int e = errno;
        for (int j = 0; j < p.nfds; j++) close(p.fds[j]);
        return e;
      }
      p.fds[p.nfds++] = d;
    }
    pending_.push_back(p);
    PollCtrl();
    return 0;
  }

  // Sends what waits, until init's queue is full again.
  void FlushPending() {
    while (!pending_.empty()) {
      PendingReq& p = pending_.front();
      if (ik_send_fds(ctrl_, &p.req, sizeof p.req, p.fds, p.nfds) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      // Sent, or init is gone (its end settles every process).
      for (int k = 0; k < p.nfds; k++) close(p.fds[k]);
      pending_.pop_front();
    }
    PollCtrl();
  }

  void DropPending() {
    for (PendingReq& p : pending_)
      for (int k = 0; k < p.nfds; k++) close(p.fds[k]);
    pending_.clear();
  }

  // Readable always; writable while requests wait.
  void PollCtrl() {
    if (!ctrl_polling_) return;
    uv_poll_start(ctrl_poll_, UV_READABLE | UV_DISCONNECT | (pending_.empty() ? 0 : UV_WRITABLE), OnCtrl);
  }

  static void OnCtrl(uv_poll_t* h, int status, int events) {
    Watch* w = static_cast<Watch*>(h->data);
    if (status == 0 && (events & UV_WRITABLE)) w->FlushPending();
    if (!w->DrainCtrl(kRecordsPerWake) || status < 0) w->StopCtrl();
  }

  static void OnPidfd(uv_poll_t* h, int status, int events) {
    Watch* w = static_cast<Watch*>(h->data);
    siginfo_t si;
    struct rusage ru;
    memset(&si, 0, sizeof si);
    memset(&ru, 0, sizeof ru);
    // waitid(2)'s fifth argument (rusage) is not in glibc's wrapper. init
    // reaps everything in its namespace, so its rusage covers the sandbox.
    long r;
    do {
      r = syscall(SYS_waitid, P_PIDFD, w->pidfd_, &si, WEXITED | WNOHANG | __WALL, &ru);
    } while (r < 0 && errno == EINTR);
    if (r == 0 && si.si_pid == 0) return;  // spurious wake-up
    w->exited_ = true;
    w->ReleaseMntns();  // first: its unmount overlaps what JS does at the end
    w->DrainCtrl(kRecordsAtEnd);  // what init sent before exiting, whether or not OnCtrl ran
    w->StopCtrl();
    w->KeepNetlinkSet();  // before JS hears of the end, and may start another
    uv_poll_stop(w->pid_poll_);
    if (!w->closed_) {
      Nan::HandleScope scope;
      int code = r == 0 ? si.si_code : 0;
      int st = r == 0 ? si.si_status : -1;
      double ut = ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec;
      double stt = ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec;
      v8::Local<v8::Value> argv[] = {Nan::New(kEventInitExit), Nan::New(0u), Nan::New(code),
                                     Nan::New(st), Nan::New(r == 0 ? 0 : errno),
                                     Nan::New(ut), Nan::New(stt),
                                     Nan::New(static_cast<double>(ru.ru_maxrss)),
                                     Nan::New(static_cast<double>(uv_hrtime()) / 1e6)};
      w->Emit(9, argv);
    }
    w->Release();
  }

  // Once init has exited: the ledger takes the set of the container's
  // netlink sockets, if init said it put any in, to count those still open
  // elsewhere (and recounts what it keeps, even when this container made
  // none).
  void KeepNetlinkSet() {
    if (kept_netlink_) return;
    kept_netlink_ = true;
    if (!netlink_used_) CloseFd(&netlink_set_);
    ik_netlink_ledger_keep(netlink_set_);
    netlink_set_ = -1;
  }

  void ReleaseMntns() {
    ik_release_later(mntns_);
    mntns_ = -1;
  }

  // After init has exited: close both polls, then the fds; the last close
  // callback drops our self-reference.
  void Release() {
    if (released_) return;
    released_ = true;
    ReleaseMntns();
    if (ctrl_polling_) DrainCtrl(kRecordsAtEnd);  // an IK_MSG_NETLINK still queued (OnEnvCleanup)
    KeepNetlinkSet();
    closed_ = true;
    StopCtrl();
    uv_poll_stop(pid_poll_);
    pending_closes_ = 2;
    uv_close(reinterpret_cast<uv_handle_t*>(pid_poll_), OnClosed);
    uv_close(reinterpret_cast<uv_handle_t*>(ctrl_poll_), OnClosed);
  }

  // The JS environment (a worker thread) is going away with init running:
  // kill and reap it, close the polls. No JS and no V8 from here on.
  static void OnEnvCleanup(void* arg) {
    Watch* w = static_cast<Watch*>(arg);
    w->teardown_ = true;
    w->closed_ = true;
    bool running = !w->exited_;
    if (running) {
      ik_pidfd_send_signal(w->pidfd_, SIGKILL);
      // A paused container's processes are frozen, and on v1 a frozen
      // process does not die of a SIGKILL until it is thawed: init would
      // never end (the poll below gave up after 10 s, the group stayed
      // frozen, its processes with it, for as long as the process lived).
      // Thawed after the kill, they die at once.
      for (const std::string& dir : w->teardown_dirs_) {
        ThawDir(dir + "/freezer.state", "THAWED");  // v1 (its freezer directory)
        ThawDir(dir + "/cgroup.freeze", "0");       // v2
      }
      // libuv made the pidfd non-blocking (waitid would say EAGAIN): wait
      // for it to become readable, i.e. for init and its namespace to die.
      struct pollfd p = {w->pidfd_, POLLIN, 0};
      while (poll(&p, 1, 10000) < 0 && errno == EINTR) {
      }
      siginfo_t si;
      while (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(w->pidfd_), &si, WEXITED | WNOHANG | __WALL) < 0 &&
             errno == EINTR) {
      }
      w->exited_ = true;
    }
    // Its group, which no JavaScript of this environment will remove now:
    // only when init still ran as the environment went (else the group is
    // the JS side's, which removed it or is removing it, and its name may
    // be another group's by now). With a pid namespace every process in it
    // is gone with init; a group still busy (processes outside it, groups
    // a payload made below) is left for gc(), as before.
    if (running) {
      for (const std::string& dir : w->teardown_dirs_) {
        for (int i = 0; i < 20 && rmdir(dir.c_str()) < 0 && errno == EBUSY; i++) {
          struct timespec ms = {0, 1000000};
          nanosleep(&ms, nullptr);
        }
      }
    }
    w->Release();
  }

  // Writes `value` to a freezer control file, if the directory has one.
  static void ThawDir(const std::string& file, const char* value) {
    int fd = open(file.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return;
    ssize_t r;
    do {
      r = write(fd, value, strlen(value));
    } while (r < 0 && errno == EINTR);
    close(fd);
  }

  static void OnClosed(uv_handle_t* h) {
    Watch* w = static_cast<Watch*>(h->data);
    delete reinterpret_cast<uv_poll_t*>(h);
    if (--w->pending_closes_ > 0) return;
    w->pid_poll_ = w->ctrl_poll_ = nullptr;
    CloseFd(&w->pidfd_);
    CloseFd(&w->ctrl_);
    if (w->teardown_) return;  // the isolate is being disposed: leave V8 alone
    node::RemoveEnvironmentCleanupHook(v8::Isolate::GetCurrent(), OnEnvCleanup, w);
    {
      Nan::HandleScope scope;
      delete w->async_;
      w->async_ = nullptr;
    }
    w->Unref();
  }

  static Watch* Self(Nan::NAN_METHOD_ARGS_TYPE info) {
    return Nan::ObjectWrap::Unwrap<Watch>(info.Holder());
  }

  // signal(sig): to init itself (init forwards what it handles).
  static NAN_METHOD(Signal) {
    Watch* w = Self(info);
    if (info.Length() < 1 || !info[0]->IsInt32()) return Nan::ThrowTypeError("Usage: signal(sig)");
    if (w->exited_ || w->pidfd_ < 0) return info.GetReturnValue().Set(Nan::New(ESRCH));
    int r = ik_pidfd_send_signal(w->pidfd_, Nan::To<int32_t>(info[0]).FromJust());
    info.GetReturnValue().Set(Nan::New(r < 0 ? errno : 0));
  }


  // killNamespace(spareInit): SIGKILL to every process of init's pid
  // namespace from here (pidns_kill.h), not through init; init too unless
  // spareInit. How many were signalled, or -errno.
  static NAN_METHOD(KillNamespace) {
    Watch* w = Self(info);
    if (info.Length() < 1 || !info[0]->IsBoolean()) return Nan::ThrowTypeError("Usage: killNamespace(spareInit)");
    if (w->exited_ || w->pidfd_ < 0) return info.GetReturnValue().Set(Nan::New(-ESRCH));
    info.GetReturnValue().Set(Nan::New(ik_pidns_kill(w->pidfd_, w->pid_, Nan::To<bool>(info[0]).FromJust() ? 1 : 0)));
  }

  // killTree(pid): SIGKILL to process `pid` of init's pid namespace, its
  // descendants and its process group, from here (pidns_kill.h). How many
  // were killed, or -errno.
  static NAN_METHOD(KillTree) {
    Watch* w = Self(info);
    if (info.Length() < 1 || !info[0]->IsInt32() || Nan::To<int32_t>(info[0]).FromJust() <= 1)
      return Nan::ThrowTypeError("Usage: killTree(pid)");
    if (w->exited_ || w->pidfd_ < 0) return info.GetReturnValue().Set(Nan::New(-ESRCH));
    info.GetReturnValue().Set(Nan::New(ik_pidns_kill_tree(w->pidfd_, w->pid_, Nan::To<int32_t>(info[0]).FromJust())));
  }

  // signalProcess(id, sig, tree): through init, to one process (and all
  // its descendants when `tree`), or to every process.
  static NAN_METHOD(SignalProcess) {
    Watch* w = Self(info);
    if (info.Length() < 3 || !info[0]->IsUint32() || !info[1]->IsInt32() || !info[2]->IsBoolean())
      return Nan::ThrowTypeError("Usage: signalProcess(id, sig, tree)");
    if (w->exited_ || w->ctrl_ < 0) return info.GetReturnValue().Set(Nan::New(ESRCH));
    ik_req req;
    memset(&req, 0, sizeof req);
    req.type = IK_REQ_SIGNAL;
    req.id = Nan::To<uint32_t>(info[0]).FromJust();
    req.sig = Nan::To<int32_t>(info[1]).FromJust();
    req.flags = Nan::To<bool>(info[2]).FromJust() ? IK_REQ_F_TREE : 0;
    info.GetReturnValue().Set(Nan::New(w->Send(req, nullptr, 0)));
  }

  // spawnProcess(id, plan, stdio) -> parent stdio fds; init answers with
  // READY or FAIL for `id` through the callback.
  static NAN_METHOD(SpawnProcess) {
    Watch* w = Self(info);
    if (info.Length() < 3 || !info[0]->IsUint32() || !node::Buffer::HasInstance(info[1]) ||
        !info[2]->IsArray())
      return Nan::ThrowTypeError("Usage: spawnProcess(id, plan, stdio)");
    if (w->exited_ || w->ctrl_ < 0) return Nan::ThrowError(ErrnoError(ESRCH, "spawnProcess"));
    const char* failed = "prepare";
    Stdio s;
    int r = MakeStdio(info[2].As<v8::Array>(), &s, &failed);
    if (r < 0) return Nan::ThrowError(ErrnoError(-r, failed));
    int plan_fd = PlanPipe(node::Buffer::Data(info[1]), node::Buffer::Length(info[1]), &failed);
    if (plan_fd < 0) {
      s.CloseAll();
      return Nan::ThrowError(ErrnoError(-plan_fd, failed));
    }
    ik_req req;
    memset(&req, 0, sizeof req);
    req.type = IK_REQ_SPAWN;
    req.id = Nan::To<uint32_t>(info[0]).FromJust();
    int fds[4] = {s.child[0], s.child[1], s.child[2], plan_fd};
    int err = w->Send(req, fds, 4);
    close(plan_fd);
    s.CloseOwned();
    if (err != 0) {
      s.CloseAll();
      return Nan::ThrowError(ErrnoError(err, "sendmsg"));
    }
    info.GetReturnValue().Set(StdioArray(s));
  }

  static NAN_METHOD(JsRef) {
    Watch* w = Self(info);
    if (w->pid_poll_ != nullptr && !w->released_) {
      uv_ref(reinterpret_cast<uv_handle_t*>(w->pid_poll_));
      uv_ref(reinterpret_cast<uv_handle_t*>(w->ctrl_poll_));
    }
  }

  static NAN_METHOD(JsUnref) {
    Watch* w = Self(info);
    if (w->pid_poll_ != nullptr && !w->released_) {
      uv_unref(reinterpret_cast<uv_handle_t*>(w->pid_poll_));
      uv_unref(reinterpret_cast<uv_handle_t*>(w->ctrl_poll_));
    }
  }

  // close(): no more callbacks. A running init is killed (which ends its
  // namespace) and still reaped by OnPidfd, so no zombie stays behind.
  static NAN_METHOD(Close) {
    Watch* w = Self(info);
    if (w->closed_) return;
    w->closed_ = true;
    if (!w->exited_) ik_pidfd_send_signal(w->pidfd_, SIGKILL);
  }

  // removeAtTeardown(dirs): the container's own group, to remove should
  // its environment (a worker thread) end with init still running.
  static NAN_METHOD(RemoveAtTeardown) {
    Watch* w = Self(info);
    if (info.Length() < 1 || !info[0]->IsArray()) return Nan::ThrowTypeError("Usage: removeAtTeardown(dirs)");
    v8::Local<v8::Array> arr = info[0].As<v8::Array>();
    w->teardown_dirs_.clear();
    for (uint32_t i = 0; i < arr->Length(); i++) {
      Nan::Utf8String dir(Nan::Get(arr, i).ToLocalChecked());
      w->teardown_dirs_.emplace_back(*dir);
    }
  }

  std::vector<std::string> teardown_dirs_;

  int pid_ = -1;
  int pidfd_ = -1;
  int ctrl_ = -1;
  int mntns_ = -1;  // the container's mount namespace, held until init is reaped (mntns_release.h)
  int netlink_set_ = -1;  // the set init counts the container's netlink sockets in (IK_MSG_NETLINK)
  bool netlink_used_ = false;  // init said it put a socket in it
  bool held_ = false;  // a HOLD came (the only one taken)
  bool set_up_ = false;  // the container's setup is over (a READY or FAIL came)
  uv_poll_t* pid_poll_ = nullptr;
  uv_poll_t* ctrl_poll_ = nullptr;
  bool ctrl_polling_ = false;
  std::deque<PendingReq> pending_;  // requests waiting for room in init's queue (Send)
  bool exited_ = false;
  bool closed_ = false;
  bool released_ = false;
  bool kept_netlink_ = false;
  bool teardown_ = false;
  int pending_closes_ = 0;
  Nan::Callback callback_;
  Nan::AsyncResource* async_ = nullptr;

  friend NAN_METHOD(Spawn);
};


// loadInit(path): prepare the init binary (once per process).
NAN_METHOD(LoadInitJs) {
  if (info.Length() < 1 || !info[0]->IsString()) return Nan::ThrowTypeError("Usage: loadInit(path)");
  Nan::Utf8String path(info[0]);
  const char* failed = "open";
  int r = LoadInit(*path, &failed);
  if (r < 0) return Nan::ThrowError(Nan::ErrnoException(-r, failed, strerror(-r), *path));
}

// Runs op(dirfd, rel) from the registered cgroup directory `path` is under
// (cgroup_dirs.h), else op(AT_FDCWD, path). A registered directory removed
// and made again since (ENOENT, ENODEV through it) is passed by: the path
// is walked whole then. Returns what op returns, errno as op left it.
template <typename Op>
int AtCgroupDir(const char* path, Op op) {
  const char* rel;
  int dfd = ik_cgroup_dir_for(path, &rel);
  int r = op(dfd, rel);
  if (r < 0 && dfd != AT_FDCWD && (errno == ENOENT || errno == ENODEV)) r = op(AT_FDCWD, path);
  return r;
}

int OpenCgroupFile(const char* path, int flags) {
  return AtCgroupDir(path, [flags](int dfd, const char* p) { return openat(dfd, p, flags); });
}

// The cgroup a new container starts in, opened from paths: a v2 directory
// (for CLONE_INTO_CGROUP; "" for none) and the cgroup.procs files to join.
// An entry may instead be an fd opened ahead (the pool's): that one is used
// as it is and stays the caller's. The clone only reads these fds (the
// zygote gets its own copies over the socket, a direct clone its own fd
// table), so duplicating them would only add a dup and a close per fd to
// the start's path.
struct CgroupFds {
  ik_cgroup_fds fds;
  bool owned_dir = false;
  bool owned_join[IK_MAX_CGROUP_JOIN] = {};
  CgroupFds() {
    fds.dir_fd = -1;
    fds.n_join = 0;
  }
  ~CgroupFds() {
    if (owned_dir) CloseFd(&fds.dir_fd);
    for (int i = 0; i < fds.n_join; i++)
      if (owned_join[i]) CloseFd(&fds.join_fds[i]);
  }
  // The caller's fd, or one opened here from a path (*owned set).
  static int OpenOne(v8::Local<v8::Value> item, int flags, bool* owned) {
    if (item->IsNumber()) {
      // Not checked here: a closed one fails the clone (EBADF from the
      // zygote's socket, or init's join), which the caller reports.
      *owned = false;
      return static_cast<int>(Nan::To<int32_t>(item).FromJust());
    }
    *owned = true;
    Nan::Utf8String path(item);
    return OpenCgroupFile(*path, flags);
  }
  // Returns 0, or -errno with *failed naming the path's role.
  int Open(v8::Local<v8::Array> arr, const char** failed) {
    v8::Local<v8::Value> dir = Nan::Get(arr, 0).ToLocalChecked();
    if (dir->IsNumber() || Nan::Utf8String(dir).length() > 0) {
      fds.dir_fd = OpenOne(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, &owned_dir);
      if (fds.dir_fd < 0) return *failed = "open cgroup directory", -errno;
    }
    for (uint32_t i = 1; i < arr->Length(); i++) {
      bool owned = false;
      int fd = OpenOne(Nan::Get(arr, i).ToLocalChecked(), O_WRONLY | O_CLOEXEC, &owned);
      if (fd < 0) return *failed = "open cgroup.procs", -errno;
      owned_join[fds.n_join] = owned;
      fds.join_fds[fds.n_join++] = fd;
    }
    return 0;
  }
};

// spawn(nsFlags, plan, stdio, callback[, cgroup]) -> { pid, handle, stdio }
// cgroup: [v2 directory or "", ...cgroup.procs paths to join]; each a path or an fd.
NAN_METHOD(Spawn) {
  if (info.Length() < 4 || !info[0]->IsNumber() || !node::Buffer::HasInstance(info[1]) ||
      !info[2]->IsArray() || !info[3]->IsFunction() || (info.Length() > 4 && !info[4]->IsArray() && !info[4]->IsUndefined()))
    return Nan::ThrowTypeError("Usage: spawn(nsFlags, plan, stdio, callback[, cgroupPaths])");
  CgroupFds cgf;
  bool have_cg = false;
  if (info.Length() > 4 && info[4]->IsArray()) {
    v8::Local<v8::Array> arr = info[4].As<v8::Array>();
    if (arr->Length() < 1 || arr->Length() > 1 + IK_MAX_CGROUP_JOIN)
      return Nan::ThrowRangeError("spawn: cgroupPaths must be [dir, ...procsFiles] with at most 10 files");
    const char* what = "open";
    int r = cgf.Open(arr, &what);
    if (r < 0) return Nan::ThrowError(ErrnoError(-r, what));
    have_cg = true;
  }
  ik_cgroup_fds& cg = cgf.fds;
  if (g_init_fd < 0) return Nan::ThrowError(ErrnoError(ENOEXEC, "spawn", "loadInit() was not called"));
  unsigned long flags = static_cast<unsigned long>(Nan::To<int64_t>(info[0]).FromJust());
  const char* failed = "prepare";
  int r = Prepare(&failed);
  if (r < 0) return Nan::ThrowError(ErrnoError(-r, failed));

  Stdio s;
  r = MakeStdio(info[2].As<v8::Array>(), &s, &failed);
  if (r < 0) return Nan::ThrowError(ErrnoError(-r, failed));
  int plan_fd = PlanPipe(node::Buffer::Data(info[1]), node::Buffer::Length(info[1]), &failed);
  if (plan_fd < 0) {
    s.CloseAll();
    return Nan::ThrowError(ErrnoError(-plan_fd, failed));
  }
  int ctrl[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctrl) < 0) {
    int e = errno;
    close(plan_fd);
    s.CloseAll();
    return Nan::ThrowError(ErrnoError(e, "socketpair"));
  }
  // The set init counts the container's netlink sockets in: made here and
  // held from the start, so that nothing has to reach us later (a set init
  // sent us could be dropped, our fd table full, and its sockets go
  // uncounted). An empty epoll set, ~1 µs.
  int netlink_set = epoll_create1(EPOLL_CLOEXEC);
  if (netlink_set < 0) {
    int e = errno;
    close(plan_fd);
    close(ctrl[0]);
    close(ctrl[1]);
    s.CloseAll();
    return Nan::ThrowError(ErrnoError(e, "epoll_create1"));
  }

  ik_spawn_args a;
  memset(&a, 0, sizeof a);
  a.netns_fd = -1;
  if (flags & CLONE_NEWNET) {
    a.netns_fd = ik_netns_take();
    if (a.netns_fd >= 0) flags &= ~static_cast<unsigned long>(CLONE_NEWNET);
  }
  int pidfd = -1;
  int pid;
  if (UseZygote()) {
    int fds[6] = {s.child[0], s.child[1], s.child[2], plan_fd, ctrl[1], netlink_set};
    pid = ik_zygote_clone(flags, fds, a.netns_fd, have_cg ? &cg : nullptr, g_init_fd, g_null_fd, g_self_pidfd, &pidfd);
  } else {
    a.argv0 = "isolate-kit-init";
    a.init_fd = g_init_fd;
    for (int i = 0; i < 3; i++) a.stdio[i] = s.child[i];
    a.plan_fd = plan_fd;
    a.ctrl_fd = ctrl[1];
    a.netlink_set_fd = netlink_set;
    a.parent_pidfd = g_self_pidfd;
    a.cgroup = have_cg ? &cg : nullptr;
    pid = ik_spawn(flags, &a, &pidfd);
  }
  if (a.netns_fd >= 0) close(a.netns_fd);
  // Refill after the clone, so the pool's work does not compete with it.
  if (flags & CLONE_NEWNET || a.netns_fd >= 0) ik_netns_refill();
  close(plan_fd);
  close(ctrl[1]);
  s.CloseOwned();
  if (pid < 0) {
    close(ctrl[0]);
    close(netlink_set);
    s.CloseAll();
    return Nan::ThrowError(ErrnoError(-pid, a.failed ? a.failed : a.err ? "execveat" : "clone"));
  }

  v8::Local<v8::Function> ctor = info.Data().As<v8::Function>();
  v8::Local<v8::Object> handle = Nan::NewInstance(ctor, 0, nullptr).ToLocalChecked();
  Watch* w = Nan::ObjectWrap::Unwrap<Watch>(handle);
  if (flags & CLONE_NEWNS) w->mntns_ = ik_mntns_hold(pid);
  w->netlink_set_ = netlink_set;
  w->Start(pid, pidfd, ctrl[0], info[3].As<v8::Function>());

  v8::Local<v8::Object> out = Nan::New<v8::Object>();
  Nan::Set(out, Nan::New("pid").ToLocalChecked(), Nan::New(pid));
  Nan::Set(out, Nan::New("handle").ToLocalChecked(), handle);
  Nan::Set(out, Nan::New("stdio").ToLocalChecked(), StdioArray(s));
  info.GetReturnValue().Set(out);
}

// Watches one fd for the cgroup code (OOM notifications): an eventfd
// (readable: read its counter) or a cgroup file the kernel notifies
// (POLLPRI: read it again, which re-arms it). Owns the fd; never keeps the
// event loop alive.
class FdWatch : public Nan::ObjectWrap {
 public:
  static v8::Local<v8::Function> Init() {
    v8::Local<v8::FunctionTemplate> t = Nan::New<v8::FunctionTemplate>(New);
    t->SetClassName(Nan::New("FdWatch").ToLocalChecked());
    t->InstanceTemplate()->SetInternalFieldCount(1);
    Nan::SetPrototypeMethod(t, "close", Close);
    return Nan::GetFunction(t).ToLocalChecked();
  }

  static NAN_METHOD(New) {
    if (!info.IsConstructCall()) return Nan::ThrowTypeError("Usage: watchFd(fd, mode, callback)");
    FdWatch* w = new FdWatch();
    w->Wrap(info.This());
    info.GetReturnValue().Set(info.This());
  }

  // mode 0: eventfd; 1: a kernfs file (POLLPRI).
  int Start(int fd, int mode, v8::Local<v8::Function> cb) {
    fd_ = fd;
    mode_ = mode;
    callback_.Reset(cb);
    async_ = new Nan::AsyncResource("isolate-kit:cgroup-watch");
    poll_ = new uv_poll_t;
    int r = uv_poll_init(Nan::GetCurrentEventLoop(), poll_, fd_);
    if (r < 0) {
      delete poll_;
      poll_ = nullptr;
      return r;
    }
    poll_->data = this;
    uv_poll_start(poll_, mode == 0 ? UV_READABLE : UV_PRIORITIZED, OnEvent);
    uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    Ref();
    node::AddEnvironmentCleanupHook(v8::Isolate::GetCurrent(), OnEnvCleanup, this);
    return 0;
  }

 private:
  ~FdWatch() override { callback_.Reset(); }

  static void OnEvent(uv_poll_t* h, int status, int events) {
    FdWatch* w = static_cast<FdWatch*>(h->data);
    char buf[512];
    ssize_t n;
    do {
      n = w->mode_ == 0 ? read(w->fd_, buf, 8) : pread(w->fd_, buf, sizeof buf, 0);
    } while (n < 0 && errno == EINTR);
    if (status < 0 || w->closed_) return;
    Nan::HandleScope scope;
    w->async_->runInAsyncScope(w->handle(), w->callback_.GetFunction(), 0, nullptr);
  }

  void Release() {
    if (released_) return;
    released_ = true;
    closed_ = true;
    if (poll_ == nullptr) return;
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), OnClosed);
    // Closed now, not in OnClosed: libuv has let go of it (uv_close takes
    // it out of epoll), and a cgroup file (memory.events on v2) must be
    // closed before its directory is removed, which follows at once on the
    // destroy path (CgroupReader.closeNow says why).
    CloseFd(&fd_);
  }

  static void OnEnvCleanup(void* arg) {
    FdWatch* w = static_cast<FdWatch*>(arg);
    w->teardown_ = true;
    w->Release();
  }

  static void OnClosed(uv_handle_t* h) {
    FdWatch* w = static_cast<FdWatch*>(h->data);
    delete reinterpret_cast<uv_poll_t*>(h);
    w->poll_ = nullptr;
    CloseFd(&w->fd_);
    if (w->teardown_) return;
    node::RemoveEnvironmentCleanupHook(v8::Isolate::GetCurrent(), OnEnvCleanup, w);
    {
      Nan::HandleScope scope;
      delete w->async_;
      w->async_ = nullptr;
    }
    w->Unref();
  }

  static NAN_METHOD(Close) {
    FdWatch* w = Nan::ObjectWrap::Unwrap<FdWatch>(info.Holder());
    w->Release();
  }

  int fd_ = -1;
  int mode_ = 0;
  uv_poll_t* poll_ = nullptr;
  bool closed_ = false;
  bool released_ = false;
  bool teardown_ = false;
  Nan::Callback callback_;
  Nan::AsyncResource* async_ = nullptr;

  friend NAN_METHOD(WatchFd);
};

// watchFd(fd, mode, callback) -> FdWatch; takes ownership of fd.
NAN_METHOD(WatchFd) {
  if (info.Length() < 3 || !info[0]->IsInt32() || !info[1]->IsInt32() || !info[2]->IsFunction())
    return Nan::ThrowTypeError("Usage: watchFd(fd, mode, callback)");
  v8::Local<v8::Function> ctor = info.Data().As<v8::Function>();
  v8::Local<v8::Object> obj = Nan::NewInstance(ctor, 0, nullptr).ToLocalChecked();
  FdWatch* w = Nan::ObjectWrap::Unwrap<FdWatch>(obj);
  int fd = Nan::To<int32_t>(info[0]).FromJust();
  int r = w->Start(fd, Nan::To<int32_t>(info[1]).FromJust(), info[2].As<v8::Function>());
  if (r < 0) {
    close(fd);
    return Nan::ThrowError(ErrnoError(-r, "uv_poll_init"));
  }
  info.GetReturnValue().Set(obj);
}

// setDeviceFilter(dirFd, [[type, major, minor, access], ...]) -> 0 or errno
NAN_METHOD(SetDeviceFilter) {
  if (info.Length() < 2 || !info[0]->IsInt32() || !info[1]->IsArray())
    return Nan::ThrowTypeError("Usage: setDeviceFilter(dirFd, rules)");
  v8::Local<v8::Array> arr = info[1].As<v8::Array>();
  uint32_t n = arr->Length();
  if (n > 4096) return Nan::ThrowRangeError("setDeviceFilter: too many rules");
  std::vector<ik_dev_rule> rules(n);
  for (uint32_t i = 0; i < n; i++) {
    v8::Local<v8::Value> v = Nan::Get(arr, i).ToLocalChecked();
    if (!v->IsArray() || v.As<v8::Array>()->Length() != 4)
      return Nan::ThrowTypeError("setDeviceFilter: each rule is [type, major, minor, access]");
    v8::Local<v8::Array> r = v.As<v8::Array>();
    Nan::Utf8String type(Nan::Get(r, 0).ToLocalChecked());
    rules[i].type = type.length() == 1 ? (*type)[0] : '?';
    rules[i].major = static_cast<int64_t>(Nan::To<double>(Nan::Get(r, 1).ToLocalChecked()).FromJust());
    rules[i].minor = static_cast<int64_t>(Nan::To<double>(Nan::Get(r, 2).ToLocalChecked()).FromJust());
    rules[i].access = Nan::To<uint32_t>(Nan::Get(r, 3).ToLocalChecked()).FromJust();
  }
  int fd = Nan::To<int32_t>(info[0]).FromJust();
  int rc = ik_cgroup_set_device_filter(fd, rules.data(), rules.size());
  info.GetReturnValue().Set(Nan::New(rc < 0 ? -rc : 0));
}

// readFiles(paths) -> (string | null)[]: small control files (cgroup
// stats), each read whole; null where one cannot be read. An entry may be
// an fd opened ahead (openFiles): read from offset 0 with pread, which
// makes the kernel render the file afresh, without a path walk or the
// first open's inode setup (~15 µs a file in a new cgroup). Not v1's tasks
// and cgroup.procs: the kernel keeps the list it built for an open file for
// a second after its last use, and answers from it (read those by path).
NAN_METHOD(ReadFiles) {
  if (info.Length() < 1 || !info[0]->IsArray()) return Nan::ThrowTypeError("Usage: readFiles(pathsOrFds)");
  v8::Local<v8::Array> arr = info[0].As<v8::Array>();
  v8::Local<v8::Array> out = Nan::New<v8::Array>(arr->Length());
  static thread_local char buf[64 * 1024];
  for (uint32_t i = 0; i < arr->Length(); i++) {
    v8::Local<v8::Value> item = Nan::Get(arr, i).ToLocalChecked();
    bool given = item->IsNumber();
    int fd;
    if (given) {
      fd = static_cast<int>(Nan::To<int32_t>(item).FromJust());
    } else {
      Nan::Utf8String path(item);
      fd = OpenCgroupFile(*path, O_RDONLY | O_CLOEXEC);
    }
    ssize_t n = -1;
    if (fd >= 0) {
      size_t len = 0;
      while (len < sizeof buf) {
        ssize_t k = pread(fd, buf + len, sizeof buf - len, static_cast<off_t>(len));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
          if (k == 0) n = static_cast<ssize_t>(len);
          break;
        }
        len += static_cast<size_t>(k);
      }
      if (len == sizeof buf) n = static_cast<ssize_t>(len);
      if (!given) close(fd);
    }
    if (n < 0)
      Nan::Set(out, i, Nan::Null());
    else
      Nan::Set(out, i, Nan::New(buf, static_cast<int>(n)).ToLocalChecked());
  }
  info.GetReturnValue().Set(out);
}

// openFiles(paths, modes) -> fd or -errno per path; modes[i] is 'r', 'w',
// 'b' (both) or 'd' (a directory, for CLONE_INTO_CGROUP). Close-on-exec.
// The cgroup pool opens a ready group's files ahead of time with it.
NAN_METHOD(OpenFiles) {
  if (info.Length() < 2 || !info[0]->IsArray() || !info[1]->IsString()) return Nan::ThrowTypeError("Usage: openFiles(paths, modes)");
  v8::Local<v8::Array> arr = info[0].As<v8::Array>();
  Nan::Utf8String modes(info[1]);
  if (static_cast<uint32_t>(modes.length()) != arr->Length()) return Nan::ThrowRangeError("openFiles: one mode per path");
  v8::Local<v8::Array> out = Nan::New<v8::Array>(arr->Length());
  for (uint32_t i = 0; i < arr->Length(); i++) {
    Nan::Utf8String path(Nan::Get(arr, i).ToLocalChecked());
    char m = (*modes)[i];
    int flags = O_CLOEXEC | (m == 'w' ? O_WRONLY : m == 'b' ? O_RDWR : m == 'd' ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    int fd = OpenCgroupFile(*path, flags);
    Nan::Set(out, i, Nan::New(fd < 0 ? -errno : fd));
  }
  info.GetReturnValue().Set(out);
}

// [index, errno]: the call of a batch that failed first, and why.
v8::Local<v8::Array> FailedAt(uint32_t index, int err) {
  v8::Local<v8::Array> r = Nan::New<v8::Array>(2);
  Nan::Set(r, 0, Nan::New(index));
  Nan::Set(r, 1, Nan::New(err));
  return r;
}

// writeFiles(paths, values) -> [index, errno] of the first failure, or null.
// Each is opened, written whole and closed. (A pooled cgroup's limits, made
// ahead: one call instead of writeFileSync's open, write and close per file.)
// A write interrupted by a signal is made again, as libuv does for
// writeFileSync: v1's memory.limit_in_bytes and memsw's refuse with EINTR
// whenever a signal is pending (the V8 profiler's SIGPROF, a child's SIGCHLD),
// which had stopped the group pool for the rest of the process.
NAN_METHOD(WriteFiles) {
  if (info.Length() < 2 || !info[0]->IsArray() || !info[1]->IsArray()) return Nan::ThrowTypeError("Usage: writeFiles(paths, values)");
  v8::Local<v8::Array> paths = info[0].As<v8::Array>();
  v8::Local<v8::Array> values = info[1].As<v8::Array>();
  if (paths->Length() != values->Length()) return Nan::ThrowRangeError("writeFiles: one value per path");
  for (uint32_t i = 0; i < paths->Length(); i++) {
    Nan::Utf8String path(Nan::Get(paths, i).ToLocalChecked());
    Nan::Utf8String value(Nan::Get(values, i).ToLocalChecked());
    int err = 0;
    int fd;
    do {
      fd = OpenCgroupFile(*path, O_WRONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
      err = errno;
    } else {
      // A control file takes a value in one write; a short one is an error.
      ssize_t n;
      do {
        n = write(fd, *value, static_cast<size_t>(value.length()));
      } while (n < 0 && errno == EINTR);
      if (n < 0) err = errno;
      else if (n != value.length()) err = EIO;
      close(fd);
    }
    if (err) return info.GetReturnValue().Set(FailedAt(i, err));
  }
  info.GetReturnValue().Set(Nan::Null());
}

// cgroupDirs(dirs): holds each directory open; cgroup paths under one are
// then reached from it (cgroup_dirs.h). Returns -errno per directory (0 held).
NAN_METHOD(CgroupDirs) {
  if (info.Length() < 1 || !info[0]->IsArray()) return Nan::ThrowTypeError("Usage: cgroupDirs(dirs)");
  v8::Local<v8::Array> arr = info[0].As<v8::Array>();
  v8::Local<v8::Array> out = Nan::New<v8::Array>(arr->Length());
  for (uint32_t i = 0; i < arr->Length(); i++) {
    Nan::Utf8String dir(Nan::Get(arr, i).ToLocalChecked());
    Nan::Set(out, i, Nan::New(ik_cgroup_dirs_add(*dir)));
  }
  info.GetReturnValue().Set(out);
}

// holdMark(path) -> fd or -errno: the process's owner mark at path, made,
// opened and flock()ed shared once per process (owner_marks.h).
NAN_METHOD(HoldMark) {
  if (info.Length() < 1 || !info[0]->IsString()) return Nan::ThrowTypeError("Usage: holdMark(path)");
  Nan::Utf8String path(info[0]);
  info.GetReturnValue().Set(Nan::New(ik_mark_hold(*path)));
}

// marks() -> [[path, fd], ...]: the owner marks held.
NAN_METHOD(Marks) {
  const char *paths[64];
  int fds[64];
  int n = ik_marks_list(paths, fds, 64);
  if (n > 64) n = 64;
  v8::Local<v8::Array> out = Nan::New<v8::Array>(n);
  for (int i = 0; i < n; i++) {
    v8::Local<v8::Array> pair = Nan::New<v8::Array>(2);
    Nan::Set(pair, 0, Nan::New(paths[i]).ToLocalChecked());
    Nan::Set(pair, 1, Nan::New(fds[i]));
    Nan::Set(out, i, pair);
  }
  info.GetReturnValue().Set(out);
}

// releaseMarks(path | null, remove): closes that mark (or all), removing its directory with `remove`.
NAN_METHOD(ReleaseMarks) {
  bool remove = info.Length() > 1 && Nan::To<bool>(info[1]).FromJust();
  if (info.Length() > 0 && info[0]->IsString()) {
    Nan::Utf8String path(info[0]);
    ik_marks_release(*path, remove);
  } else {
    ik_marks_release(nullptr, remove);
  }
}

// cgroupDirFds() -> the fds cgroupDirs() holds (for leak checks).
NAN_METHOD(CgroupDirFds) {
  int fds[128];
  int n = ik_cgroup_dirs_fds(fds, 128);
  if (n > 128) n = 128;
  v8::Local<v8::Array> out = Nan::New<v8::Array>(n);
  for (int i = 0; i < n; i++) Nan::Set(out, i, Nan::New(fds[i]));
  info.GetReturnValue().Set(out);
}

// tryLock(fd, shared) -> 0, or -errno (-EWOULDBLOCK: another open file holds
// it): flock(LOCK_EX | LOCK_NB), or LOCK_SH with `shared`. The kernel drops
// the lock when its holder's file is closed, or the holder dies: no stale
// lock to break.
NAN_METHOD(TryLock) {
  if (info.Length() < 1 || !info[0]->IsInt32()) return Nan::ThrowTypeError("Usage: tryLock(fd, shared)");
  int fd = Nan::To<int32_t>(info[0]).FromJust();
  bool shared = info.Length() > 1 && Nan::To<bool>(info[1]).FromJust();
  int r = flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB);
  info.GetReturnValue().Set(Nan::New(r < 0 ? -errno : 0));
}

// closeFds(fds): closes each (negative entries skipped).
NAN_METHOD(CloseFds) {
  if (info.Length() < 1 || !info[0]->IsArray()) return Nan::ThrowTypeError("Usage: closeFds(fds)");
  v8::Local<v8::Array> arr = info[0].As<v8::Array>();
  for (uint32_t i = 0; i < arr->Length(); i++) {
    int fd = static_cast<int>(Nan::To<int32_t>(Nan::Get(arr, i).ToLocalChecked()).FromJust());
    if (fd >= 0) close(fd);
  }
}

// mkdirs(paths) -> [index, errno] of the first failure, or null (mode 0755).
// (cgroup directories: one call instead of one per hierarchy.)
NAN_METHOD(Mkdirs) {
  if (info.Length() < 1 || !info[0]->IsArray()) return Nan::ThrowTypeError("Usage: mkdirs(paths)");
  v8::Local<v8::Array> arr = info[0].As<v8::Array>();
  for (uint32_t i = 0; i < arr->Length(); i++) {
    Nan::Utf8String path(Nan::Get(arr, i).ToLocalChecked());
    if (AtCgroupDir(*path, [](int dfd, const char* p) { return mkdirat(dfd, p, 0755); }) < 0)
      return info.GetReturnValue().Set(FailedAt(i, errno));
  }
  info.GetReturnValue().Set(Nan::Null());
}

// rmdirs(paths) -> errno per path (0: removed or already gone).
NAN_METHOD(Rmdirs) {
  if (info.Length() < 1 || !info[0]->IsArray()) return Nan::ThrowTypeError("Usage: rmdirs(paths)");
  v8::Local<v8::Array> arr = info[0].As<v8::Array>();
  v8::Local<v8::Array> out = Nan::New<v8::Array>(arr->Length());
  for (uint32_t i = 0; i < arr->Length(); i++) {
    Nan::Utf8String path(Nan::Get(arr, i).ToLocalChecked());
    int r = AtCgroupDir(*path, [](int dfd, const char* p) { return unlinkat(dfd, p, AT_REMOVEDIR); });
    int e = r < 0 && errno != ENOENT ? errno : 0;
    Nan::Set(out, i, Nan::New(e));
  }
  info.GetReturnValue().Set(out);
}

// Filesystem calls Node lacks, for image layers (lib/image): a layer in
// overlayfs's format has whiteouts (0/0 character devices) and opaque
// directories (an xattr). Synchronous; each throws an ErrnoException.
//
// mknod(path, mode, dev): mode carries the type (S_IFCHR, S_IFBLK, S_IFIFO).
NAN_METHOD(Mknod) {
  if (info.Length() < 3 || !info[0]->IsString() || !info[1]->IsNumber() || !info[2]->IsNumber())
    return Nan::ThrowTypeError("Usage: mknod(path, mode, dev)");
  Nan::Utf8String path(info[0]);
  mode_t mode = static_cast<mode_t>(Nan::To<uint32_t>(info[1]).FromJust());
  dev_t dev = static_cast<dev_t>(Nan::To<int64_t>(info[2]).FromJust());
  if (mknod(*path, mode, dev) < 0) return Nan::ThrowError(Nan::ErrnoException(errno, "mknod", strerror(errno), *path));
}

// lsetxattr(path, name, value: Buffer): on the link itself, never followed.
NAN_METHOD(Lsetxattr) {
  if (info.Length() < 3 || !info[0]->IsString() || !info[1]->IsString() || !node::Buffer::HasInstance(info[2]))
    return Nan::ThrowTypeError("Usage: lsetxattr(path, name, value)");
  Nan::Utf8String path(info[0]);
  Nan::Utf8String name(info[1]);
  if (lsetxattr(*path, *name, node::Buffer::Data(info[2]), node::Buffer::Length(info[2]), 0) < 0)
    return Nan::ThrowError(Nan::ErrnoException(errno, "lsetxattr", strerror(errno), *path));
}

// lgetxattr(path, name) -> Buffer, or null when the attribute is absent
// (ENODATA) or the filesystem has none (ENOTSUP).
NAN_METHOD(Lgetxattr) {
  if (info.Length() < 2 || !info[0]->IsString() || !info[1]->IsString()) return Nan::ThrowTypeError("Usage: lgetxattr(path, name)");
  Nan::Utf8String path(info[0]);
  Nan::Utf8String name(info[1]);
  char buf[4096];
  ssize_t n = lgetxattr(*path, *name, buf, sizeof buf);
  if (n < 0) {
    if (errno == ENODATA || errno == ENOTSUP) return info.GetReturnValue().SetNull();
    return Nan::ThrowError(Nan::ErrnoException(errno, "lgetxattr", strerror(errno), *path));
  }
  info.GetReturnValue().Set(Nan::CopyBuffer(buf, static_cast<uint32_t>(n)).ToLocalChecked());
}

// eventfd() -> fd (close-on-exec, non-blocking), for cgroup v1 notifications.
NAN_METHOD(EventFd) {
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return Nan::ThrowError(ErrnoError(errno, "eventfd"));
  info.GetReturnValue().Set(Nan::New(fd));
}

// probeUnshare(flags) -> 0 or errno
NAN_METHOD(ProbeUnshare) {
  if (info.Length() < 1 || !info[0]->IsNumber()) return Nan::ThrowTypeError("Usage: probeUnshare(flags)");
  unsigned long flags = static_cast<unsigned long>(Nan::To<int64_t>(info[0]).FromJust());
  info.GetReturnValue().Set(Nan::New(ik_probe_unshare(flags)));
}

// libseccomp(): null when libseccomp.so.2 loads, else dlerror()'s text.
NAN_METHOD(Libseccomp) {
  void* h = dlopen("libseccomp.so.2", RTLD_LAZY | RTLD_LOCAL);
  if (h != nullptr) {
    dlclose(h);
    return info.GetReturnValue().SetNull();
  }
  const char* e = dlerror();
  info.GetReturnValue().Set(Nan::New(e ? e : "dlopen failed").ToLocalChecked());
}

// compileSeccomp(defaultAction, badArchAction, arches, rules) -> { bpf, unknown }:
// lib/seccomp-profile.ts's resolved profile to BPF (seccomp_compile.c).
// rules: [action, syscall name, args], args flat, 6 numbers each: index, op,
// and the two 64-bit operands as low and high 32-bit halves. unknown: the
// indices of rules whose syscall libseccomp does not know. Throws an errno
// error naming the call (syscall), and `rule` for a rule libseccomp refused.
NAN_METHOD(CompileSeccomp) {
  if (info.Length() < 4 || !info[0]->IsUint32() || !info[1]->IsUint32() || !info[2]->IsArray() || !info[3]->IsArray())
    return Nan::ThrowTypeError("Usage: compileSeccomp(defaultAction, badArchAction, arches, rules)");
  v8::Local<v8::Array> archArr = info[2].As<v8::Array>();
  v8::Local<v8::Array> ruleArr = info[3].As<v8::Array>();
  if (archArr->Length() > 16 || ruleArr->Length() > 65536) return Nan::ThrowRangeError("compileSeccomp: too many arches or rules");
  std::vector<uint32_t> arches(archArr->Length());
  for (uint32_t i = 0; i < arches.size(); i++) arches[i] = Nan::To<uint32_t>(Nan::Get(archArr, i).ToLocalChecked()).FromJust();
  std::vector<ik_scmp_rule> rules(ruleArr->Length());
  std::vector<std::string> names(rules.size());
  auto u32 = [](v8::Local<v8::Array> a, uint32_t k) { return Nan::To<uint32_t>(Nan::Get(a, k).ToLocalChecked()).FromJust(); };
  for (uint32_t i = 0; i < rules.size(); i++) {
    v8::Local<v8::Value> v = Nan::Get(ruleArr, i).ToLocalChecked();
    if (!v->IsArray() || v.As<v8::Array>()->Length() != 3) return Nan::ThrowTypeError("compileSeccomp: each rule is [action, name, args]");
    v8::Local<v8::Array> r = v.As<v8::Array>();
    v8::Local<v8::Value> argsV = Nan::Get(r, 2).ToLocalChecked();
    if (!argsV->IsArray() || argsV.As<v8::Array>()->Length() % 6 != 0 || argsV.As<v8::Array>()->Length() > 36)
      return Nan::ThrowTypeError("compileSeccomp: a rule's args are 6 numbers each, at most 6 of them");
    v8::Local<v8::Array> a = argsV.As<v8::Array>();
    rules[i].action = u32(r, 0);
    names[i] = *Nan::Utf8String(Nan::Get(r, 1).ToLocalChecked());
    rules[i].n_args = a->Length() / 6;
    for (uint32_t k = 0; k < rules[i].n_args; k++) {
      rules[i].args[k].arg = u32(a, 6 * k);
      rules[i].args[k].op = u32(a, 6 * k + 1);
      rules[i].args[k].a = static_cast<uint64_t>(u32(a, 6 * k + 2)) | static_cast<uint64_t>(u32(a, 6 * k + 3)) << 32;
      rules[i].args[k].b = static_cast<uint64_t>(u32(a, 6 * k + 4)) | static_cast<uint64_t>(u32(a, 6 * k + 5)) << 32;
    }
  }
  for (uint32_t i = 0; i < rules.size(); i++) rules[i].name = names[i].c_str();
  std::vector<unsigned char> unknown(rules.size() + 1);
  unsigned char* out = nullptr;
  size_t len = 0, failed = SIZE_MAX;
  const char* why = nullptr;
  if (ik_seccomp_compile(Nan::To<uint32_t>(info[0]).FromJust(), Nan::To<uint32_t>(info[1]).FromJust(), arches.data(), arches.size(), rules.data(),
                         rules.size(), unknown.data(), &out, &len, &why, &failed) < 0) {
    int e = errno;
    v8::Local<v8::Value> err = ErrnoError(e, why);
    if (failed != SIZE_MAX) Nan::Set(err.As<v8::Object>(), Nan::New("rule").ToLocalChecked(), Nan::New(static_cast<uint32_t>(failed)));
    return Nan::ThrowError(err);
  }
  v8::Local<v8::Object> res = Nan::New<v8::Object>();
  Nan::Set(res, Nan::New("bpf").ToLocalChecked(), Nan::CopyBuffer(reinterpret_cast<char*>(out), len).ToLocalChecked());
  free(out);
  v8::Local<v8::Array> unk = Nan::New<v8::Array>();
  for (uint32_t i = 0, n = 0; i < rules.size(); i++)
    if (unknown[i]) Nan::Set(unk, n++, Nan::New(i));
  Nan::Set(res, Nan::New("unknown").ToLocalChecked(), unk);
  info.GetReturnValue().Set(res);
}

// landlockAbi(): the kernel's Landlock ABI version (1 for Linux 5.13, 6 for
// 6.12, ...), or -errno: -ENOSYS not built in, -EOPNOTSUPP not enabled at
// boot (the lsm= list). The version query needs no privilege.
NAN_METHOD(LandlockAbi) {
  long v = syscall(444 /* landlock_create_ruleset, every ABI */, nullptr, 0, 1u /* ..._VERSION */);
  info.GetReturnValue().Set(Nan::New(static_cast<int32_t>(v < 0 ? -errno : v)));
}

// mountsChanged(): whether this process's mount table changed since the
// last call (true the first time). The kernel flags an open mountinfo file
// with POLLPRI on every change, so callers may cache what they derived from it.
NAN_METHOD(MountsChanged) {
  static std::mutex m;
  static int fd = -1;
  std::lock_guard<std::mutex> lock(m);
  if (fd < 0) {
    fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
    return info.GetReturnValue().Set(Nan::True());
  }
  struct pollfd p = {fd, POLLPRI, 0};
  int r = poll(&p, 1, 0);
  info.GetReturnValue().Set(Nan::New(r != 0));  // on error, assume a change
}

// netlinkOrphans(exact): netlink sockets of ended containers still open
// somewhere (netlink_ledger.h); new containers get none while these are
// IK_NETLINK_ORPHANS_MAX or more.
NAN_METHOD(NetlinkOrphans) {
  bool exact = info.Length() > 0 && Nan::To<bool>(info[0]).FromJust();
  info.GetReturnValue().Set(Nan::New(ik_netlink_ledger_count(exact ? 1 : 0)));
}

// getrlimit(resource) -> [soft, hard] as BigInts (RLIM_INFINITY: 2^64-1):
// the limits a container started from this process inherits, and can raise
// past the hard one only with CAP_SYS_RESOURCE (lib/process-options.ts).
NAN_METHOD(GetRlimit) {
  if (info.Length() < 1 || !info[0]->IsNumber()) return Nan::ThrowTypeError("Usage: getrlimit(resource)");
  struct rlimit rl;
  if (getrlimit(Nan::To<int32_t>(info[0]).FromJust(), &rl) < 0) return Nan::ThrowError(ErrnoError(errno, "getrlimit"));
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  v8::Local<v8::Array> a = Nan::New<v8::Array>(2);
  Nan::Set(a, 0, v8::BigInt::NewFromUnsigned(isolate, static_cast<uint64_t>(rl.rlim_cur)));
  Nan::Set(a, 1, v8::BigInt::NewFromUnsigned(isolate, static_cast<uint64_t>(rl.rlim_max)));
  info.GetReturnValue().Set(a);
}

// fdCount(): open fds of this process, for leak checks.
NAN_METHOD(OpenFds) {
  v8::Local<v8::Array> a = Nan::New<v8::Array>();
  uint32_t n = 0;
  for (int fd = 0; fd < 4096; fd++)
    if (fcntl(fd, F_GETFD) >= 0) Nan::Set(a, n++, Nan::New(fd));
  info.GetReturnValue().Set(a);
}

NAN_MODULE_INIT(InitModule) {
  v8::Local<v8::Function> ctor = Watch::Init();
  Nan::Set(target, Nan::New("ContainerHandle").ToLocalChecked(), ctor);
  Nan::Set(target, Nan::New("spawn").ToLocalChecked(),
           Nan::GetFunction(Nan::New<v8::FunctionTemplate>(Spawn, ctor)).ToLocalChecked());
  v8::Local<v8::Function> watch_ctor = FdWatch::Init();
  Nan::Set(target, Nan::New("watchFd").ToLocalChecked(),
           Nan::GetFunction(Nan::New<v8::FunctionTemplate>(WatchFd, watch_ctor)).ToLocalChecked());
  Nan::SetMethod(target, "eventfd", EventFd);
  Nan::SetMethod(target, "setDeviceFilter", SetDeviceFilter);
  Nan::SetMethod(target, "readFiles", ReadFiles);
  Nan::SetMethod(target, "openFiles", OpenFiles);
  Nan::SetMethod(target, "writeFiles", WriteFiles);
  Nan::SetMethod(target, "cgroupDirs", CgroupDirs);
  Nan::SetMethod(target, "cgroupDirFds", CgroupDirFds);
  Nan::SetMethod(target, "holdMark", HoldMark);
  Nan::SetMethod(target, "marks", Marks);
  Nan::SetMethod(target, "releaseMarks", ReleaseMarks);
  Nan::SetMethod(target, "mknod", Mknod);
  Nan::SetMethod(target, "lsetxattr", Lsetxattr);
  Nan::SetMethod(target, "lgetxattr", Lgetxattr);
  Nan::SetMethod(target, "closeFds", CloseFds);
  Nan::SetMethod(target, "tryLock", TryLock);
  Nan::SetMethod(target, "mkdirs", Mkdirs);
  Nan::SetMethod(target, "rmdirs", Rmdirs);
  Nan::SetMethod(target, "loadInit", LoadInitJs);
  Nan::SetMethod(target, "probeUnshare", ProbeUnshare);
  Nan::SetMethod(target, "libseccomp", Libseccomp);
  Nan::SetMethod(target, "compileSeccomp", CompileSeccomp);
  Nan::SetMethod(target, "landlockAbi", LandlockAbi);
  Nan::SetMethod(target, "openFds", OpenFds);
  Nan::SetMethod(target, "getrlimit", GetRlimit);
  Nan::SetMethod(target, "netlinkOrphans", NetlinkOrphans);
  Nan::Set(target, Nan::New("NETLINK_SOCKETS_MAX").ToLocalChecked(), Nan::New(IK_NETLINK_SOCKETS_MAX));
  Nan::Set(target, Nan::New("NETLINK_ORPHANS_MAX").ToLocalChecked(), Nan::New(IK_NETLINK_ORPHANS_MAX));
  Nan::SetMethod(target, "mountsChanged", MountsChanged);
}

}  // namespace

// Context-aware: worker threads load it too; process-wide state is mutex-guarded.
NAN_MODULE_WORKER_ENABLED(isolate_kit, InitModule)
