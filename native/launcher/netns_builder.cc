// cordon – the sandbox's network namespace, made by a helper thread of init while init builds the mount tree.
#include "netns_builder.h"

#include <linux/sockios.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "network.h"
#include "privileges.h"
#include "report.h"

namespace cordon {

void* NetnsBuilder::run(void* self) {
  auto* b = static_cast<NetnsBuilder*>(self);
  // A new network namespace for this thread alone, owned by the sandbox's user namespace.
  if (::unshare(CLONE_NEWNET) != 0) return fail("namespaces", "unshare", "net"), nullptr;
  if (!bring_up_loopback() || !setup_network(*b->plan_)) return nullptr;
  int sock = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return fail("namespaces", "socket", "netns handle"), nullptr;
  int fd = ::ioctl(sock, SIOCGSKNS);  // an O_CLOEXEC fd of the socket's (our) network namespace
  int saved = errno;
  ::close(sock);
  errno = saved;
  if (fd < 0) return fail("namespaces", "ioctl", "SIOCGSKNS"), nullptr;
  b->netns_fd_ = fd;
  return nullptr;
}

bool NetnsBuilder::start(const Plan& plan) {
  plan_ = &plan;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  int rc = pthread_create(&thread_, &attr, &NetnsBuilder::run, this);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    errno = rc;
    return fail("namespaces", "pthread_create", "network namespace builder");
  }
  return true;
}

bool NetnsBuilder::join() {
  int rc = pthread_join(thread_, nullptr);
  if (rc != 0) {
    errno = rc;
    return fail("namespaces", "pthread_join", "network namespace builder");
  }
  if (netns_fd_ < 0) return false;  // the thread reported its failure
  bool ok = ::setns(netns_fd_, CLONE_NEWNET) == 0 || fail("namespaces", "setns", "net");
  ::close(netns_fd_);
  netns_fd_ = -1;
  return ok;
}

}  // namespace cordon
