// cordon – resource limits from plan records 40..59: cgroups (created by the launcher around init)
// and rlimits (set in the command just before exec).
//
// Node decides which mechanism enforces each limit (src/linux/limits.ts); these records only say
// what to do, so the launcher holds no policy:
//   40 CGROUP   name \0 parent-dir            create parent-dir/cordon-<launcher pid>-<caller pid> (one per hierarchy)
//   41 CGSET    name \0 file \0 value         write value to that cgroup's file, in record order
//   42 RLIMIT   resource \0 soft \0 hard      setrlimit in the command before exec
//   43 COUNTER  name \0 file \0 key \0 label  after the run: "key N" in file with N > 0 → LIMIT label N
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "plan.h"

namespace cordon {

/** The Node process this launcher serves when that is not its parent (a launch server's fork). */
void set_caller_pid(pid_t pid);

/** Whether the plan puts init in cgroups (CGROUP records): then init waits for the launcher to have
 *  moved it (one byte on the life pipe) before it goes on. Without, nobody waits for anybody. */
bool has_cgroups(const Plan& plan);


/** The cgroups of one launch. Lives in the launcher (outside every namespace). */
class Cgroups {
 public:
  /** Creates and configures the plan's cgroups and opens their cgroup.procs. Must run before unshare:
   *  cgroup v1 checks the credentials the procs file was opened with. Reports SETUP on failure. */
  bool create(const Plan& plan);
  /** Moves `pid` (init, before it forks the command) into every cgroup. */
  bool join(pid_t pid);
  /** After the tree is gone: reports `LIMIT <label> <count>` for each counter that moved. */
  void report(const Plan& plan) const;
  /** In init (a forked copy): closes the descriptors, removes nothing. */
  void close_fds();
  /** Removes the cgroups; waits briefly for the kernel to finish the teardown. Idempotent. */
  void remove();

 private:
  // Paths are only used before unshare: init's pivot_root moves the launcher's root too, so
  // everything later goes through these descriptors.
  struct Group {
    std::string name;
    std::string dir;   // for messages
    std::string leaf;  // cordon-<launcher pid>-<caller pid>
    int parent = -1;   // O_DIRECTORY fd of the parent (for rmdir)
    int self = -1;     // O_DIRECTORY fd of the group (for counters)
    int procs = -1;    // cgroup.procs, opened with the caller's credentials
  };
  std::vector<Group> groups_;
};

/** Caps the pid namespace's pid_max (PID_MAX record); called by init, pid 1 of that namespace. */
bool apply_pid_max(const Plan& plan);

/** One RLIMIT record, decoded. */
struct RlimitSetting {
  int resource;
  unsigned long long soft, hard;
};
constexpr int kMaxRlimits = 16;  // RLIM_NLIMITS

/** Decodes the plan's rlimits into `out` (at most kMaxRlimits); false (reported) if one is malformed. */
bool parse_rlimits(const Plan& plan, RlimitSetting* out, int* count);

/** Lowers the calling process's limits (the command, before exec); allocates nothing, so it may run
 *  in a child that shares init's memory. */
bool apply_rlimits(const RlimitSetting* settings, int count);

}  // namespace cordon
