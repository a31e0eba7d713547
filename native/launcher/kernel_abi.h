// cordon – kernel ABI the launcher needs beyond the build machine's libc headers (syscall numbers,
// Landlock ABI 1-7, new mount API, seccomp notify). Values are the kernel's UAPI; each is guarded so a
// newer header wins. Raw syscall wrappers return -1 and set errno like libc does.
#pragma once
#include <cstdint>
#include <cerrno>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/types.h>

#ifndef __NR_open_tree
#define __NR_open_tree 428
#endif
#ifndef __NR_move_mount
#define __NR_move_mount 429
#endif
#ifndef __NR_fsopen
#define __NR_fsopen 430
#endif
#ifndef __NR_fsconfig
#define __NR_fsconfig 431
#endif
#ifndef __NR_fsmount
#define __NR_fsmount 432
#endif
#ifndef __NR_close_range
#define __NR_close_range 436
#endif
#ifndef __NR_openat2
#define __NR_openat2 437
#endif
#ifndef __NR_mount_setattr
#define __NR_mount_setattr 442
#endif
#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif

namespace cordon::abi {

// --- openat2 -------------------------------------------------------------------------------------
struct OpenHow { uint64_t flags; uint64_t mode; uint64_t resolve; };
constexpr uint64_t kResolveNoMagiclinks = 0x02;
constexpr uint64_t kResolveNoSymlinks = 0x04;
constexpr uint64_t kResolveInRoot = 0x10;

// --- new mount API ------------------------------------------------------------------------------
constexpr unsigned kOpenTreeClone = 1;
constexpr unsigned kMoveMountFEmptyPath = 0x04;
constexpr unsigned kMoveMountTEmptyPath = 0x40;
constexpr unsigned kFsconfigSetString = 1;
constexpr unsigned kFsconfigCmdCreate = 6;
constexpr unsigned kMountAttrRdonly = 0x01;
constexpr unsigned kMountAttrNosuid = 0x02;
constexpr unsigned kMountAttrNodev = 0x04;
constexpr unsigned kMountAttrNoexec = 0x08;
struct MountAttr { uint64_t attr_set; uint64_t attr_clr; uint64_t propagation; uint64_t userns_fd; };

// --- Landlock (ABI 1..7) --------------------------------------------------------------------------
struct LandlockRulesetAttr { uint64_t handled_access_fs; uint64_t handled_access_net; uint64_t scoped; };
struct __attribute__((packed)) LandlockPathBeneathAttr { uint64_t allowed_access; int32_t parent_fd; };
constexpr uint32_t kLandlockCreateRulesetVersion = 1u << 0;
constexpr int kLandlockRulePathBeneath = 1;

// --- seccomp -------------------------------------------------------------------------------------
constexpr unsigned kSeccompSetModeFilter = 1;
constexpr unsigned kSeccompFilterFlagNewListener = 1u << 3;
struct SeccompData { int32_t nr; uint32_t arch; uint64_t instruction_pointer; uint64_t args[6]; };
struct SeccompNotif { uint64_t id; uint32_t pid; uint32_t flags; SeccompData data; };
struct SeccompNotifResp { uint64_t id; int64_t val; int32_t error; uint32_t flags; };
// _IOWR('!', 0, struct seccomp_notif) and _IOWR('!', 1, struct seccomp_notif_resp)
constexpr unsigned long kSeccompIoctlNotifRecv = 0xc0502100UL;
constexpr unsigned long kSeccompIoctlNotifSend = 0xc0182101UL;

inline int openat2(int dirfd, const char* path, const OpenHow* how) {
  return static_cast<int>(::syscall(__NR_openat2, dirfd, path, how, sizeof(OpenHow)));
}
inline int open_tree(int dirfd, const char* path, unsigned flags) {
  return static_cast<int>(::syscall(__NR_open_tree, dirfd, path, flags));
}
inline int move_mount(int from_dirfd, const char* from, int to_dirfd, const char* to, unsigned flags) {
  return static_cast<int>(::syscall(__NR_move_mount, from_dirfd, from, to_dirfd, to, flags));
}
inline int mount_setattr(int dirfd, const char* path, unsigned flags, MountAttr* attr) {
  return static_cast<int>(::syscall(__NR_mount_setattr, dirfd, path, flags, attr, sizeof(MountAttr)));
}
inline int fsopen(const char* fs, unsigned flags) {
  return static_cast<int>(::syscall(__NR_fsopen, fs, flags));
}
inline int fsconfig(int fd, unsigned cmd, const char* key, const void* value, int aux) {
  return static_cast<int>(::syscall(__NR_fsconfig, fd, cmd, key, value, aux));
}
inline int fsmount(int fd, unsigned flags, unsigned attrs) {
  return static_cast<int>(::syscall(__NR_fsmount, fd, flags, attrs));
}
inline int close_range(unsigned first, unsigned last, unsigned flags) {
  return static_cast<int>(::syscall(__NR_close_range, first, last, flags));
}
inline int landlock_create_ruleset(const LandlockRulesetAttr* attr, size_t size, uint32_t flags) {
  return static_cast<int>(::syscall(__NR_landlock_create_ruleset, attr, size, flags));
}
inline int landlock_add_rule(int fd, int type, const void* attr, uint32_t flags) {
  return static_cast<int>(::syscall(__NR_landlock_add_rule, fd, type, attr, flags));
}
inline int landlock_restrict_self(int fd, uint32_t flags) {
  return static_cast<int>(::syscall(__NR_landlock_restrict_self, fd, flags));
}

}  // namespace cordon::abi
