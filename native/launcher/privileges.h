// cordon – process-wide hardening inside the sandbox: loopback, hostname, capabilities, no_new_privs.
#pragma once
#include <string>

namespace cordon {

/** Brings up `lo` in the sandbox's (empty) network namespace. */
bool bring_up_loopback();

/** Sets the UTS hostname of the sandbox. */
bool set_hostname(const std::string& name);

/** Drops every capability: bounding set, ambient, inheritable, permitted and effective. */
bool drop_capabilities();

/** Sets no_new_privs: setuid bits and file capabilities no longer grant anything on exec. */
bool set_no_new_privs();

}  // namespace cordon
