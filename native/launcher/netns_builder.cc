// cordon – the sandbox's network namespace, made by a helper thread of init while init builds the mount tree.
#include "netns_builder.h"

#include <linux/sockios.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "mounts.h"
#include "network.h"
#include "privileges.h"
#include "report.h"

namespace cordon {
namespace {

// The namespace fd, or -1 (failure reported).
int make_netns(const Plan& plan) {
  // A new network namespace for this thread alone, owned by the sandbox's user namespace.
  if (::unshare(CLONE_NEWNET) != 0) return fail("namespaces", "unshare", "net"), -1;
  TRACE_STEP("netns helper: unshared");
  if (!bring_up_loopback() || !setup_network(plan)) return -1;
  int sock = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return fail("namespaces", "socket", "netns handle"), -1;
  int fd = ::ioctl(sock, SIOCGSKNS);  // an O_CLOEXEC fd of the socket's (our) network namespace
  int saved = errno;
  ::close(sock);
  errno = saved;
  if (fd < 0) return fail("namespaces", "ioctl", "SIOCGSKNS"), -1;
  return fd;
}

}  // namespace

void* NetnsBuilder::run(void* self) {
  auto* b = static_cast<NetnsBuilder*>(self);
  // Started away from the main thread's CPU (start()); from here on the scheduler may move us.
  if (b->cpus_narrowed_) ::sched_setaffinity(0, sizeof b->cpus_, &b->cpus_);
  TRACE_STEP("netns helper: running");
  const int fd = make_netns(*b->plan_);
  TRACE_STEP("netns helper: namespace ready");
  pthread_mutex_lock(&b->mu_);
  b->netns_fd_ = fd;
  b->made_ = true;
  pthread_cond_broadcast(&b->cv_);
  if (fd >= 0) {
    while (!b->detach_asked_) pthread_cond_wait(&b->cv_, &b->mu_);
  }
  pthread_mutex_unlock(&b->mu_);
  // Without a namespace init fails in enter(), and nothing is left to detach for.
  if (fd < 0) return nullptr;
  const bool ok = detach_host_tree();
  pthread_mutex_lock(&b->mu_);
  b->detached_ = ok;
  pthread_mutex_unlock(&b->mu_);
  return nullptr;
}

bool NetnsBuilder::start(const Plan& plan) {
  plan_ = &plan;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  // Left to the scheduler, the helper was queued behind the main thread on its CPU (measured on a
  // 2-core VM: it ran only ~0.75 ms later, one EEVDF slice, when the mount tree was done, and the
  // namespace, ~0.7 ms of kernel work, then held up the command by ~0.3 ms). Started on another
  // allowed CPU, the two run side by side.
  int here = ::sched_getcpu();
  cpu_set_t elsewhere;
  if (here >= 0 && ::sched_getaffinity(0, sizeof cpus_, &cpus_) == 0 && CPU_COUNT(&cpus_) > 1) {
    elsewhere = cpus_;
    CPU_CLR(here, &elsewhere);
    cpus_narrowed_ = CPU_COUNT(&elsewhere) > 0 && pthread_attr_setaffinity_np(&attr, sizeof elsewhere, &elsewhere) == 0;
  }
  // The thread inherits a mask blocking every signal: a signal sent to init is then never
  // delivered to it (and lost in a no-op handler), but waits for the main thread's signalfd.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&thread_, &attr, &NetnsBuilder::run, this);
  if (rc != 0 && cpus_narrowed_) {  // the placement is only a hint: start it anywhere init may run
    cpus_narrowed_ = false;
    pthread_attr_setaffinity_np(&attr, sizeof cpus_, &cpus_);
    rc = pthread_create(&thread_, &attr, &NetnsBuilder::run, this);
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    errno = rc;
    return fail("namespaces", "pthread_create", "network namespace builder");
  }
  started_ = true;
  return true;
}

void NetnsBuilder::detach_after_pivot() {
  pthread_mutex_lock(&mu_);
  detach_asked_ = true;
  pthread_cond_broadcast(&cv_);
  pthread_mutex_unlock(&mu_);
}

bool NetnsBuilder::enter() {
  pthread_mutex_lock(&mu_);
  while (!made_) pthread_cond_wait(&cv_, &mu_);
  const int fd = netns_fd_;
  netns_fd_ = -1;
  pthread_mutex_unlock(&mu_);
  if (fd < 0) return false;  // the thread reported its failure
  bool ok = ::setns(fd, CLONE_NEWNET) == 0 || fail("namespaces", "setns", "net");
  ::close(fd);
  return ok;
}

bool NetnsBuilder::finish() {
  if (!started_) {
    errno = ECHILD;
    return fail("namespaces", "pthread_join", "network namespace builder (not running)");
  }
  int rc = pthread_join(thread_, nullptr);
  started_ = false;
  if (rc != 0) {
    errno = rc;
    return fail("namespaces", "pthread_join", "network namespace builder");
  }
  return detached_;  // read after the join; a failed detach was reported by the thread
}

}  // namespace cordon
