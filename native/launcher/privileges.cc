// cordon – process-wide hardening inside the sandbox: loopback, hostname, capabilities, no_new_privs.
#include "privileges.h"

#include <linux/capability.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "report.h"

namespace cordon {

bool bring_up_loopback() {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail("network", "socket", "loopback control socket");
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  bool ok = ::ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
  if (ok) {
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
    ok = ::ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
  }
  int saved = errno;
  ::close(fd);
  errno = saved;
  return ok || fail("network", "ioctl", "SIOCSIFFLAGS lo up");
}

bool set_hostname(const std::string& name) {
  return ::sethostname(name.data(), name.size()) == 0 || fail("hostname", "sethostname", name.c_str());
}

bool drop_capabilities() {
  // The bounding set first (needs CAP_SETPCAP, which we still hold), so no later exec regains a cap.
  for (int cap = 0; cap <= 63; ++cap) {
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      if (errno == EINVAL) break;  // past the kernel's last capability
      return fail("capabilities", "prctl", "PR_CAPBSET_DROP");
    }
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0)
    return fail("capabilities", "prctl", "PR_CAP_AMBIENT_CLEAR_ALL");
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  std::memset(data, 0, sizeof data);
  if (::syscall(SYS_capset, &header, data) != 0) return fail("capabilities", "capset", "clear all");
  return true;
}

bool set_no_new_privs() {
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 || fail("no-new-privs", "prctl", "PR_SET_NO_NEW_PRIVS");
}

}  // namespace cordon
