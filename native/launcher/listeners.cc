// cordon – allowlist networking's listeners, held by init until the command first uses one, then handed to the supervisor.
#include "listeners.h"

#include <unistd.h>

#include <cerrno>

#include "fd_passing.h"
#include "report.h"

namespace cordon {
namespace {

// Set by the netns helper thread (hold_listeners) before it signals that the namespace is ready;
// read by init's main thread only after it waited for that (netns_builder.h).
struct Held {
  int channel = -1;
  std::string names;
  std::vector<int> fds;
} g_held;

}  // namespace

void drop_listeners() {
  for (int fd : g_held.fds) ::close(fd);
  if (g_held.channel >= 0) ::close(g_held.channel);
  g_held = Held{};
}

void hold_listeners(int channel, std::string names, std::vector<int> fds) {
  drop_listeners();
  g_held.channel = channel;
  g_held.names = std::move(names);
  g_held.fds = std::move(fds);
}

int held_fds(int* out, int max) {
  int n = 0;
  for (int fd : g_held.fds)
    if (n < max) out[n++] = fd;
  if (g_held.channel >= 0 && n < max) out[n++] = g_held.channel;
  return n;
}

void held_fd_ready(int fd) {
  if (g_held.channel < 0) return;
  if (fd == g_held.channel) drop_listeners();
  else hand_over_listeners();  // failed: the supervisor is gone, and they are closed
}

bool hand_over_listeners() {
  if (g_held.channel < 0) return true;
  const bool sent = send_with_fds(g_held.channel, g_held.names.data(), g_held.names.size(), g_held.fds.data(),
                                  static_cast<unsigned>(g_held.fds.size()));
  const int err = errno;
  drop_listeners();  // only the supervisor holds them from now on
  errno = err;
  if (sent) report_line("NET READY\n");
  return sent;
}

}  // namespace cordon
