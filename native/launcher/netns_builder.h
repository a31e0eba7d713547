// cordon – the sandbox's network namespace, made by a helper thread of init while init builds the mount tree.
#pragma once
#include <pthread.h>
#include <sched.h>

#include "plan.h"

namespace cordon {

/**
 * Creating a network namespace costs ~0.35-0.7 ms (every protocol's per-namespace setup), about as
 * much as the mount tree, and needs nothing from it: a helper thread of init unshares it, brings up
 * `lo` and runs setup_network() inside it, while init's main thread builds the mounts. Namespaces
 * belong to threads, so the helper's unshare moves only itself; enter() then moves init into the
 * new namespace by an fd taken from a socket inside it (SIOCGSKNS), with no /proc path lookup
 * racing the pivot_root of the main thread.
 *
 * The helper also detaches the host tree once the main thread has pivoted (detach_host_tree(),
 * mounts.h): the unmount waits for an RCU grace period, and meanwhile the main thread drops its
 * privileges and installs Landlock and seccomp (all per-thread; the helper keeps its capabilities
 * and blocks every signal, so none meant for init is lost to it). finish() waits for it, and no
 * command is started before finish() has returned true.
 */
class NetnsBuilder {
 public:
  /** Starts the thread; false (failure reported) if it could not be started. */
  bool start(const Plan& plan);
  /** The main thread has pivoted: the helper detaches the host tree when its namespace is made. */
  void detach_after_pivot();
  /** Waits for the namespace, then setns() into it; false (failure reported) on any error. */
  bool enter();
  /** Waits for the thread; false (failure reported) if the namespace or the detach failed. */
  bool finish();

 private:
  static void* run(void* self);
  const Plan* plan_ = nullptr;
  pthread_t thread_{};
  bool started_ = false;
  pthread_mutex_t mu_ = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cv_ = PTHREAD_COND_INITIALIZER;
  bool made_ = false;           // the helper is done with the namespace (netns_fd_ set, or it failed)
  bool detach_asked_ = false;   // the main thread has pivoted
  bool detached_ = false;       // the helper detached the host tree
  int netns_fd_ = -1;
  cpu_set_t cpus_{};            // init's allowed CPUs: the helper starts on one other than init's
  bool cpus_narrowed_ = false;  // current CPU, then widens its own mask back to these
};

}  // namespace cordon
