// cordon – Landlock: the in-kernel second layer mirroring the filesystem plan, plus IPC scoping.
//
// ABI gates: the planner computes the handled masks for the ABI it probed; we refuse to run if the
// kernel is older than that (a ruleset silently handling fewer rights would be a silent downgrade).
// Rights that only make sense on directories are stripped for rules whose path is a file, because
// landlock_add_rule rejects them there with EINVAL.
#include "landlock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "kernel_abi.h"
#include "report.h"

namespace cordon {
namespace {

// EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE (ABI 3) | IOCTL_DEV (ABI 5)
constexpr uint64_t kFileRights = (1ull << 0) | (1ull << 1) | (1ull << 2) | (1ull << 14) | (1ull << 15);

}  // namespace

int landlock_abi_version() {
  int v = abi::landlock_create_ruleset(nullptr, 0, abi::kLandlockCreateRulesetVersion);
  return v < 0 ? 0 : v;
}

bool apply_landlock(const Plan& plan) {
  if (plan.landlock_abi == 0) return true;  // the planner chose (and logged) a run without Landlock
  int version = landlock_abi_version();
  if (version < plan.landlock_abi) {
    char detail[96];
    std::snprintf(detail, sizeof detail, "kernel Landlock ABI %d < required %d", version, plan.landlock_abi);
    if (version > 0) errno = EOPNOTSUPP;
    return fail("landlock", "landlock_create_ruleset", detail);
  }
  abi::LandlockRulesetAttr attr = {plan.landlock_fs, 0, plan.landlock_scope};
  // ABI < 6 kernels do not know the `scoped` field; give them the struct size they understand.
  size_t size = plan.landlock_scope != 0 ? sizeof attr : 2 * sizeof(uint64_t);
  int ruleset = abi::landlock_create_ruleset(&attr, size, 0);
  if (ruleset < 0) return fail("landlock", "landlock_create_ruleset", "ruleset");
  for (const LandlockRule& rule : plan.landlock_rules) {
    int fd = ::open(rule.path.c_str(), O_PATH | O_CLOEXEC);
    if (fd < 0) {
      int saved = errno;
      ::close(ruleset);
      errno = saved;
      return fail("landlock", "open", rule.path.c_str());
    }
    struct stat st;
    uint64_t access = rule.access & plan.landlock_fs;
    if (::fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) access &= kFileRights;
    abi::LandlockPathBeneathAttr beneath = {access, fd};
    int rc = access == 0 ? 0 : abi::landlock_add_rule(ruleset, abi::kLandlockRulePathBeneath, &beneath, 0);
    int saved = errno;
    ::close(fd);
    if (rc != 0) {
      ::close(ruleset);
      errno = saved;
      return fail("landlock", "landlock_add_rule", rule.path.c_str());
    }
  }
  int rc = abi::landlock_restrict_self(ruleset, 0);
  int saved = errno;
  ::close(ruleset);
  errno = saved;
  return rc == 0 || fail("landlock", "landlock_restrict_self", "");
}

}  // namespace cordon
