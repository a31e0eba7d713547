// cordon – status records from the launcher to the Node supervisor.
#include "report.h"

#include <fcntl.h>
#include <pthread.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <time.h>
#include <unistd.h>

namespace cordon {

namespace {
// The connect broker's workers (threads of init) report too: one line at a time.
pthread_mutex_t g_report_mu = PTHREAD_MUTEX_INITIALIZER;
// Init forks the command while workers run: a worker holding the lock at that moment would leave
// the child (which reports its own exec failure) a mutex nobody will ever unlock. Held across fork.
void lock_report() { pthread_mutex_lock(&g_report_mu); }
void unlock_report() { pthread_mutex_unlock(&g_report_mu); }
const int g_fork_guard = pthread_atfork(lock_report, unlock_report, unlock_report);
}  // namespace

void report_line(const char* line) {
  pthread_mutex_lock(&g_report_mu);
  size_t len = std::strlen(line);
  while (len > 0) {
    ssize_t n = ::write(kStatusFd, line, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    line += n;
    len -= static_cast<size_t>(n);
  }
  pthread_mutex_unlock(&g_report_mu);
}

void report_setup_failure(const char* step, const char* syscall_name, int err, const char* detail) {
  char buf[4096];
  std::snprintf(buf, sizeof buf, "SETUP %s %s %d %s\n", step, syscall_name, err, detail);
  report_line(buf);
}

bool fail(const char* step, const char* syscall_name, const char* detail) {
  report_setup_failure(step, syscall_name, errno, detail);
  return false;
}

#ifdef CORDON_TRACE
#ifndef CORDON_TRACE_FILE
#define CORDON_TRACE_FILE "/tmp/cordon-trace.log"
#endif
// A "TRACE <µs> <pid> <step>" record; the time is CLOCK_MONOTONIC (Node's process.hrtime clock),
// so launcher, init and supervisor timestamps line up with bench/trace.mjs's own.
void trace_step(const char* step) {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  char line[160];
  int len = std::snprintf(line, sizeof line, "TRACE %lld %d %s\n", static_cast<long long>(ts.tv_sec) * 1000000LL + ts.tv_nsec / 1000,
                          static_cast<int>(::getpid()), step);
  // Opened by the launcher's first record (before any pivot_root) and inherited from then on.
  if (::fcntl(kTraceFd, F_GETFD) < 0) {
    int fd = ::open(CORDON_TRACE_FILE, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return;
    ::dup3(fd, kTraceFd, O_CLOEXEC);
    ::close(fd);
  }
  if (::write(kTraceFd, line, static_cast<size_t>(len < static_cast<int>(sizeof line) ? len : sizeof line - 1)) < 0) return;
}
#endif

}  // namespace cordon
