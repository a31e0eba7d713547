// cordon – the sandbox's network namespace, made by a helper thread of init while init builds the mount tree.
#pragma once
#include <pthread.h>

#include "plan.h"

namespace cordon {

/**
 * Creating a network namespace costs ~0.35 ms (every protocol's per-namespace setup), a third of
 * the mount tree's cost, and needs nothing from it: a helper thread of init unshares it, brings up
 * `lo` and runs setup_network() inside it, while init's main thread builds the mounts. Namespaces
 * belong to threads, so the helper's unshare moves only itself; join() then moves init into the new
 * namespace by an fd taken from a socket inside it (SIOCGSKNS), with no /proc path lookup racing
 * the pivot_root of the main thread.
 */
class NetnsBuilder {
 public:
  /** Starts the thread; false (failure reported) if it could not be started. */
  bool start(const Plan& plan);
  /** Waits for the thread, then setns() into its namespace; false (failure reported) on any error. */
  bool join();

 private:
  static void* run(void* self);
  const Plan* plan_ = nullptr;
  pthread_t thread_{};
  int netns_fd_ = -1;
};

}  // namespace cordon
