// cordon – network setup inside the sandbox's network namespace (allowlist mode), from plan records 20..39.
#include "network.h"

#include <cerrno>

#include "report.h"

namespace cordon {

bool setup_network(const Plan& plan) {
  if (plan.network.empty()) return true;
  // Fail closed: a plan asking for endpoint rules this launcher cannot set up must not run open.
  errno = ENOSYS;
  return fail("network", "setup", "network allowlist records are not supported by this launcher");
}

}  // namespace cordon
