// cordon – decodes the launch plan sent by Node (see plan.h for the wire format).
#include "plan.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

#include "report.h"

namespace cordon {
namespace {

constexpr uint32_t kMaxRecord = 64u << 20;  // one record (e.g. an env value) may not exceed 64 MiB

bool read_exact(int fd, void* buf, size_t len) {
  auto* p = static_cast<char*>(buf);
  while (len > 0) {
    ssize_t n = ::read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EPIPE;
      return false;
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

// Splits "a\0b\0c" into up to `max` fields.
std::vector<std::string> split_nul(const std::string& s, size_t max) {
  std::vector<std::string> out;
  size_t start = 0;
  while (out.size() + 1 < max) {
    size_t z = s.find('\0', start);
    if (z == std::string::npos) break;
    out.emplace_back(s, start, z - start);
    start = z + 1;
  }
  out.emplace_back(s, start);
  return out;
}

bool parse_u64(const std::string& s, uint64_t* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

bool parse_mount_kind(const std::string& s, MountKind* k) {
  static const struct { const char* name; MountKind kind; } kKinds[] = {
      {"bind-ro", MountKind::kBindRo}, {"bind-rw", MountKind::kBindRw}, {"bind-dev", MountKind::kBindDev},
      {"tmpfs", MountKind::kTmpfs},    {"mask", MountKind::kMask},      {"symlink", MountKind::kSymlink},
      {"dir", MountKind::kDir},        {"proc", MountKind::kProc},      {"devpts", MountKind::kDevpts},
      {"file", MountKind::kFile},      {"remount-ro", MountKind::kRemountRo},
  };
  for (const auto& e : kKinds) {
    if (s == e.name) {
      *k = e.kind;
      return true;
    }
  }
  return false;
}

bool bad_record(const char* what) {
  errno = EINVAL;
  return fail("read-plan", "decode", what);
}

}  // namespace

bool read_plan(int fd, Plan* plan) {
  for (;;) {
    uint32_t header[2];
    if (!read_exact(fd, header, sizeof header)) return fail("read-plan", "read", "plan header");
    const uint32_t tag = header[0];
    const uint32_t len = header[1];
    if (len > kMaxRecord) return bad_record("record too large");
    std::string payload(len, '\0');
    if (len > 0 && !read_exact(fd, payload.data(), len)) return fail("read-plan", "read", "plan payload");
    uint64_t num = 0;
    switch (static_cast<Tag>(tag)) {
      case Tag::kArg: plan->argv.push_back(std::move(payload)); break;
      case Tag::kEnv: plan->env.push_back(std::move(payload)); break;
      case Tag::kCwd: plan->cwd = std::move(payload); break;
      case Tag::kHostname: plan->hostname = std::move(payload); break;
      case Tag::kMount: {
        auto f = split_nul(payload, 4);
        if (f.size() != 4) return bad_record("mount record needs 4 fields");
        MountOp op;
        if (!parse_mount_kind(f[0], &op.kind)) return bad_record("unknown mount kind");
        op.src = f[1];
        op.dst = f[2];
        op.opt = f[3];
        if (op.dst.empty() || op.dst[0] != '/') return bad_record("mount destination must be absolute");
        plan->mounts.push_back(std::move(op));
        break;
      }
      case Tag::kLandlockFs:
        if (!parse_u64(payload, &plan->landlock_fs)) return bad_record("landlock fs mask");
        break;
      case Tag::kLandlockScope:
        if (!parse_u64(payload, &plan->landlock_scope)) return bad_record("landlock scope");
        break;
      case Tag::kLandlockAbi:
        if (!parse_u64(payload, &num)) return bad_record("landlock abi");
        plan->landlock_abi = static_cast<int>(num);
        break;
      case Tag::kLandlockRule: {
        auto f = split_nul(payload, 2);
        LandlockRule r;
        if (f.size() != 2 || !parse_u64(f[0], &r.access)) return bad_record("landlock rule");
        r.path = f[1];
        plan->landlock_rules.push_back(std::move(r));
        break;
      }
      case Tag::kSeccomp:
        if (payload.size() % 8 != 0 || payload.empty()) return bad_record("seccomp program size");
        plan->seccomp = std::move(payload);
        break;
      case Tag::kNamespaces:
        if (!parse_u64(payload, &plan->namespaces)) return bad_record("namespaces");
        break;
      case Tag::kNotifyErrno: {
        auto f = split_nul(payload, 2);
        uint64_t nr = 0, err = 0;
        if (f.size() != 2 || !parse_u64(f[0], &nr) || !parse_u64(f[1], &err)) return bad_record("notify errno");
        plan->notify_errno.emplace_back(static_cast<int>(nr), static_cast<int>(err));
        break;
      }
      case Tag::kEnd:
        if (plan->argv.empty()) return bad_record("empty argv");
        return true;
      default:
        if (tag >= static_cast<uint32_t>(Tag::kNetworkFirst) && tag <= static_cast<uint32_t>(Tag::kNetworkLast)) {
          plan->network.emplace_back(tag, std::move(payload));
          break;
        }
        if (tag >= static_cast<uint32_t>(Tag::kLimitsFirst) && tag <= static_cast<uint32_t>(Tag::kLimitsLast)) {
          plan->limits.emplace_back(tag, std::move(payload));
          break;
        }
        return bad_record("unknown record tag");
    }
  }
}

}  // namespace cordon
