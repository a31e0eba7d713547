// cordon – network setup inside the sandbox's network namespace (allowlist mode), from plan records 20..39.
//
// Runs in init (pid 1, root of the sandbox's user namespace, all capabilities still held) after `lo`
// is up. Nothing here relays traffic: the launcher only builds the trap and hands it over.
//   1. listening sockets are created inside the netns: the transparent listener (127.0.0.1 and, when
//      IPv6 targets are captured, [::1] at the capture port), the proxy listener (127.0.0.1:proxy
//      port) and the DNS server (127.0.0.1:53 UDP and TCP, 127.0.0.53:53 UDP);
//   2. IP/CIDR targets outside loopback get a `local` route on lo, so a connect to them is delivered
//      here instead of failing with ENETUNREACH (every other address still has no route);
//   3. an nftables `nat output` chain (programmed over netlink, no nft binary needed) redirects TCP
//      to the capture ranges (the fake-address pool of the DNS answerer, IP/CIDR rules) and ports to
//      the transparent listener, whose accepted sockets keep the original destination
//      (SO_ORIGINAL_DST);
//   4. the sockets go to the supervisor over the channel fd (SCM_RIGHTS) and are closed here, so if
//      the supervisor dies every new connect is refused at once (fail closed). They go when the
//      command first uses one: until then init holds them (listeners.h).
// Any error fails the setup: the command never runs with a half-built network.
//
// Records:
//   20 NET_CONFIG   channel-fd \0 capture-port \0 proxy-port [\0 broker|relay]   (exactly one; broker:
//                   the seccomp filter sends every connect() to pid 1, connect_broker.cc)
//   21 NET_CAPTURE  action \0 cidr \0 port-lo \0 port-hi           action: redirect | accept;
//                                                                   port-lo 0 = any port
#include "network.h"

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "listeners.h"
#include "report.h"

namespace cordon {
namespace {

constexpr uint32_t kTagConfig = 20;
constexpr uint32_t kTagCapture = 21;
// The DNS answerer listens where resolvers look by default (127.0.0.1:53: glibc, musl, Go and c-ares
// without a resolv.conf) and at systemd-resolved's stub address, which a host resolv.conf symlink
// may still name.
constexpr const char* kDnsAddress = "127.0.0.1";
constexpr const char* kDnsStubAddress = "127.0.0.53";

struct Cidr {
  int family = AF_INET;
  unsigned char addr[16] = {0};
  int bits = 0;
};

struct Capture {
  bool redirect = true;
  Cidr cidr;
  uint16_t port_lo = 0;  // 0 = any
  uint16_t port_hi = 0;
};

struct Config {
  int channel = -1;
  uint16_t capture_port = 0;
  uint16_t proxy_port = 0;
  bool broker = false;
  std::vector<Capture> captures;
};

bool parse_num(const std::string& s, long max, long* out) {
  if (s.empty() || s.size() > 10) return false;
  char* end = nullptr;
  long v = std::strtol(s.c_str(), &end, 10);
  if (*end != '\0' || v < 0 || v > max) return false;
  *out = v;
  return true;
}

bool parse_cidr(const std::string& text, Cidr* c) {
  size_t slash = text.find('/');
  std::string ip = text.substr(0, slash);
  c->family = ip.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  if (::inet_pton(c->family, ip.c_str(), c->addr) != 1) return false;
  long max = c->family == AF_INET ? 32 : 128;
  long bits = max;
  if (slash != std::string::npos && !parse_num(text.substr(slash + 1), max, &bits)) return false;
  c->bits = static_cast<int>(bits);
  return true;
}

bool bad(const char* what) {
  errno = EINVAL;
  return fail("network", "plan", what);
}

bool parse_config(const Plan& plan, Config* cfg) {
  bool have_config = false;
  for (const auto& [tag, payload] : plan.network) {
    auto f = split_nul(payload);
    if (tag == kTagConfig) {
      long fd = 0, cport = 0, pport = 0;
      if (have_config || (f.size() != 3 && f.size() != 4) || !parse_num(f[0], 1 << 20, &fd) || !parse_num(f[1], 65535, &cport) ||
          !parse_num(f[2], 65535, &pport) || cport == 0 || pport == 0 || cport == pport ||
          (f.size() == 4 && f[3] != "broker" && f[3] != "relay"))
        return bad("bad NET_CONFIG record");
      cfg->broker = f.size() == 4 && f[3] == "broker";
      cfg->channel = static_cast<int>(fd);
      cfg->capture_port = static_cast<uint16_t>(cport);
      cfg->proxy_port = static_cast<uint16_t>(pport);
      have_config = true;
    } else if (tag == kTagCapture) {
      Capture cap;
      long lo = 0, hi = 0;
      if (f.size() != 4 || (f[0] != "redirect" && f[0] != "accept") || !parse_cidr(f[1], &cap.cidr) ||
          !parse_num(f[2], 65535, &lo) || !parse_num(f[3], 65535, &hi) || lo > hi || (lo == 0 && hi != 0))
        return bad("bad NET_CAPTURE record");
      cap.redirect = f[0] == "redirect";
      cap.port_lo = static_cast<uint16_t>(lo);
      cap.port_hi = static_cast<uint16_t>(hi);
      cfg->captures.push_back(cap);
    } else {
      return bad("unknown network record");
    }
  }
  if (!have_config) return bad("network records without NET_CONFIG");
  return true;
}

// ---- sockets ----------------------------------------------------------------------------------

int make_socket(int family, int type, const char* ip, uint16_t port, const char* what) {
  int fd = ::socket(family, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail("network", "socket", what), -1;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  sockaddr_storage ss;
  std::memset(&ss, 0, sizeof ss);
  socklen_t len;
  if (family == AF_INET) {
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    ::inet_pton(AF_INET, ip, &sa->sin_addr);
    len = sizeof *sa;
  } else {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(port);
    ::inet_pton(AF_INET6, ip, &sa->sin6_addr);
    len = sizeof *sa;
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    fail("network", "bind", what);
    ::close(fd);
    return -1;
  }
  if (type == SOCK_STREAM && ::listen(fd, 4096) != 0) {
    fail("network", "listen", what);
    ::close(fd);
    return -1;
  }
  return fd;
}

// ---- netlink ----------------------------------------------------------------------------------

// Builds netlink messages into one buffer (attributes 4-byte aligned, nests patched on close).
class NlBuf {
 public:
  size_t begin(uint16_t type, uint16_t flags, const void* hdr, size_t hdr_len) {
    size_t start = align();
    nlmsghdr nh;
    std::memset(&nh, 0, sizeof nh);
    nh.nlmsg_type = type;
    nh.nlmsg_flags = flags;
    nh.nlmsg_seq = ++seq_;
    put(&nh, sizeof nh);
    put(hdr, hdr_len);
    if (flags & NLM_F_ACK) ++acks_;
    return start;
  }
  void end(size_t start) {
    align();
    uint32_t len = static_cast<uint32_t>(buf_.size() - start);
    std::memcpy(&buf_[start], &len, sizeof len);
  }
  void attr(uint16_t type, const void* data, size_t len) {
    align();
    nlattr a = {static_cast<uint16_t>(NLA_HDRLEN + len), type};
    put(&a, sizeof a);
    put(data, len);
  }
  void str(uint16_t type, const char* s) { attr(type, s, std::strlen(s) + 1); }
  void be32(uint16_t type, uint32_t v) {
    uint32_t n = htonl(v);
    attr(type, &n, sizeof n);
  }
  void u32(uint16_t type, uint32_t v) { attr(type, &v, sizeof v); }
  size_t nest(uint16_t type) {
    size_t start = align();
    nlattr a = {0, static_cast<uint16_t>(type | NLA_F_NESTED)};
    put(&a, sizeof a);
    return start;
  }
  void close_nest(size_t start) {
    uint16_t len = static_cast<uint16_t>(buf_.size() - start);
    std::memcpy(&buf_[start], &len, sizeof len);
  }
  const std::vector<char>& data() const { return buf_; }
  int acks() const { return acks_; }

 private:
  size_t align() {
    while (buf_.size() % 4) buf_.push_back(0);
    return buf_.size();
  }
  void put(const void* p, size_t n) {
    const char* c = static_cast<const char*>(p);
    buf_.insert(buf_.end(), c, c + n);
  }
  std::vector<char> buf_;
  uint32_t seq_ = 0;
  int acks_ = 0;
};

// Sends the buffer and checks that every message asking for an ack got a zero error.
bool nl_transact(int protocol, const NlBuf& msg, const char* what) {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  if (fd < 0) return fail("network", "socket", what);
  sockaddr_nl sa;
  std::memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  const auto& d = msg.data();
  if (::sendto(fd, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != static_cast<ssize_t>(d.size())) {
    fail("network", "sendto", what);
    ::close(fd);
    return false;
  }
  // Replies are queued before sendto returns; the timeout only guards against a kernel that never answers.
  timeval tv = {2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  int acks = 0;
  alignas(nlmsghdr) char buf[8192];
  while (acks < msg.acks()) {
    int n = static_cast<int>(::recv(fd, buf, sizeof buf, 0));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("network", "recv", what);
      ::close(fd);
      return false;
    }
    for (auto* nh = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(nh, static_cast<unsigned>(n)); nh = NLMSG_NEXT(nh, n)) {
      if (nh->nlmsg_type != NLMSG_ERROR) continue;
      auto* err = static_cast<nlmsgerr*>(NLMSG_DATA(nh));
      if (err->error != 0) {
        errno = -err->error;
        fail("network", "netlink", what);
        ::close(fd);
        return false;
      }
      ++acks;
    }
  }
  ::close(fd);
  return true;
}

bool is_loopback(const Cidr& c) {
  if (c.family == AF_INET) return c.bits >= 8 && c.addr[0] == 127;
  static const unsigned char kLo6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return c.bits == 128 && std::memcmp(c.addr, kLo6, 16) == 0;
}

// `ip route add local CIDR dev lo table local`: the target becomes reachable, and lands here.
bool add_local_routes(const Config& cfg) {
  NlBuf msg;
  unsigned lo = ::if_nametoindex("lo");
  if (lo == 0) return fail("network", "if_nametoindex", "lo");
  for (const auto& cap : cfg.captures) {
    if (!cap.redirect || is_loopback(cap.cidr)) continue;
    rtmsg rt;
    std::memset(&rt, 0, sizeof rt);
    rt.rtm_family = static_cast<unsigned char>(cap.cidr.family);
    rt.rtm_dst_len = static_cast<unsigned char>(cap.cidr.bits);
    rt.rtm_table = RT_TABLE_LOCAL;
    rt.rtm_protocol = RTPROT_BOOT;
    rt.rtm_scope = RT_SCOPE_HOST;
    rt.rtm_type = RTN_LOCAL;
    size_t m = msg.begin(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK, &rt, sizeof rt);
    msg.attr(RTA_DST, cap.cidr.addr, cap.cidr.family == AF_INET ? 4 : 16);
    msg.u32(RTA_OIF, lo);
    msg.end(m);
  }
  return msg.acks() == 0 || nl_transact(NETLINK_ROUTE, msg, "local routes for IP rules");
}

// nftables expression helpers (all register values big-endian, as the kernel expects).
void expr_begin(NlBuf& m, const char* name, size_t* elem, size_t* data) {
  *elem = m.nest(NFTA_LIST_ELEM);
  m.str(NFTA_EXPR_NAME, name);
  *data = m.nest(NFTA_EXPR_DATA);
}
void expr_end(NlBuf& m, size_t elem, size_t data) {
  m.close_nest(data);
  m.close_nest(elem);
}
void expr_payload(NlBuf& m, uint32_t base, uint32_t offset, uint32_t len) {
  size_t e, d;
  expr_begin(m, "payload", &e, &d);
  m.be32(NFTA_PAYLOAD_DREG, NFT_REG_1);
  m.be32(NFTA_PAYLOAD_BASE, base);
  m.be32(NFTA_PAYLOAD_OFFSET, offset);
  m.be32(NFTA_PAYLOAD_LEN, len);
  expr_end(m, e, d);
}
void expr_cmp(NlBuf& m, uint32_t op, const void* value, size_t len) {
  size_t e, d;
  expr_begin(m, "cmp", &e, &d);
  m.be32(NFTA_CMP_SREG, NFT_REG_1);
  m.be32(NFTA_CMP_OP, op);
  size_t v = m.nest(NFTA_CMP_DATA);
  m.attr(NFTA_DATA_VALUE, value, len);
  m.close_nest(v);
  expr_end(m, e, d);
}
void expr_bitwise(NlBuf& m, const unsigned char* mask, size_t len) {
  size_t e, d;
  expr_begin(m, "bitwise", &e, &d);
  m.be32(NFTA_BITWISE_SREG, NFT_REG_1);
  m.be32(NFTA_BITWISE_DREG, NFT_REG_1);
  m.be32(NFTA_BITWISE_LEN, static_cast<uint32_t>(len));
  size_t mk = m.nest(NFTA_BITWISE_MASK);
  m.attr(NFTA_DATA_VALUE, mask, len);
  m.close_nest(mk);
  unsigned char zero[16] = {0};
  size_t x = m.nest(NFTA_BITWISE_XOR);
  m.attr(NFTA_DATA_VALUE, zero, len);
  m.close_nest(x);
  expr_end(m, e, d);
}

void rule_expressions(NlBuf& m, const Capture& cap, uint16_t target_port) {
  size_t list = m.nest(NFTA_RULE_EXPRESSIONS);
  // meta l4proto tcp
  {
    size_t e, d;
    expr_begin(m, "meta", &e, &d);
    m.be32(NFTA_META_DREG, NFT_REG_1);
    m.be32(NFTA_META_KEY, NFT_META_L4PROTO);
    expr_end(m, e, d);
    unsigned char tcp = IPPROTO_TCP;
    expr_cmp(m, NFT_CMP_EQ, &tcp, 1);
  }
  // ip(6) daddr CIDR
  const bool v4 = cap.cidr.family == AF_INET;
  const size_t alen = v4 ? 4 : 16;
  if (cap.cidr.bits > 0) {
    expr_payload(m, NFT_PAYLOAD_NETWORK_HEADER, v4 ? 16 : 24, static_cast<uint32_t>(alen));
    unsigned char mask[16] = {0}, net[16] = {0};
    for (int i = 0; i < cap.cidr.bits; ++i) mask[i / 8] |= static_cast<unsigned char>(0x80 >> (i % 8));
    for (size_t i = 0; i < alen; ++i) net[i] = cap.cidr.addr[i] & mask[i];
    if (cap.cidr.bits < static_cast<int>(alen * 8)) expr_bitwise(m, mask, alen);
    expr_cmp(m, NFT_CMP_EQ, net, alen);
  }
  // tcp dport lo-hi
  if (cap.port_lo != 0) {
    expr_payload(m, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
    uint16_t lo = htons(cap.port_lo), hi = htons(cap.port_hi);
    if (cap.port_lo == cap.port_hi) {
      expr_cmp(m, NFT_CMP_EQ, &lo, 2);
    } else {
      expr_cmp(m, NFT_CMP_GTE, &lo, 2);
      expr_cmp(m, NFT_CMP_LTE, &hi, 2);
    }
  }
  size_t e, d;
  if (cap.redirect) {
    // redirect to :target_port (daddr becomes 127.0.0.1 / ::1; conntrack keeps the original)
    uint16_t port = htons(target_port);
    expr_begin(m, "immediate", &e, &d);
    m.be32(NFTA_IMMEDIATE_DREG, NFT_REG_1);
    size_t v = m.nest(NFTA_IMMEDIATE_DATA);
    m.attr(NFTA_DATA_VALUE, &port, 2);
    m.close_nest(v);
    expr_end(m, e, d);
    expr_begin(m, "redir", &e, &d);
    m.be32(NFTA_REDIR_REG_PROTO_MIN, NFT_REG_1);
    m.be32(NFTA_REDIR_REG_PROTO_MAX, NFT_REG_1);
    m.be32(NFTA_REDIR_FLAGS, NF_NAT_RANGE_PROTO_SPECIFIED);
    expr_end(m, e, d);
  } else {
    expr_begin(m, "immediate", &e, &d);
    m.be32(NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT);
    size_t v = m.nest(NFTA_IMMEDIATE_DATA);
    size_t vd = m.nest(NFTA_DATA_VERDICT);
    m.be32(NFTA_VERDICT_CODE, NF_ACCEPT);
    m.close_nest(vd);
    m.close_nest(v);
    expr_end(m, e, d);
  }
  m.close_nest(list);
}

// table ip|ip6 cordon { chain out { type nat hook output priority -100; policy accept; … } }
bool load_nat_rules(const Config& cfg) {
  NlBuf m;
  nfgenmsg batch = {AF_UNSPEC, NFNETLINK_V0, htons(NFNL_SUBSYS_NFTABLES)};
  size_t b = m.begin(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, &batch, sizeof batch);
  m.end(b);
  const uint16_t kNew = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_ACK;
  for (int family : {AF_INET, AF_INET6}) {
    bool any = false;
    for (const auto& cap : cfg.captures) any = any || cap.cidr.family == family;
    if (!any) continue;
    nfgenmsg g = {static_cast<uint8_t>(family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6), NFNETLINK_V0, 0};
    size_t t = m.begin((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE, kNew, &g, sizeof g);
    m.str(NFTA_TABLE_NAME, "cordon");
    m.end(t);
    size_t c = m.begin((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWCHAIN, kNew, &g, sizeof g);
    m.str(NFTA_CHAIN_TABLE, "cordon");
    m.str(NFTA_CHAIN_NAME, "out");
    size_t h = m.nest(NFTA_CHAIN_HOOK);
    m.be32(NFTA_HOOK_HOOKNUM, NF_INET_LOCAL_OUT);
    m.be32(NFTA_HOOK_PRIORITY, static_cast<uint32_t>(-100));
    m.close_nest(h);
    m.str(NFTA_CHAIN_TYPE, "nat");
    m.be32(NFTA_CHAIN_POLICY, NF_ACCEPT);
    m.end(c);
    for (const auto& cap : cfg.captures) {
      if (cap.cidr.family != family) continue;
      size_t r = m.begin((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE, kNew | NLM_F_APPEND, &g, sizeof g);
      m.str(NFTA_RULE_TABLE, "cordon");
      m.str(NFTA_RULE_CHAIN, "out");
      rule_expressions(m, cap, cfg.capture_port);
      m.end(r);
    }
  }
  size_t e = m.begin(NFNL_MSG_BATCH_END, NLM_F_REQUEST, &batch, sizeof batch);
  m.end(e);
  return nl_transact(NETLINK_NETFILTER, m, "nftables capture rules");
}

// What setup_network built (or a session command's plan names), kept for connect_broker.cc.
Config g_config;
bool g_brokered = false;

bool cidr_contains(const Cidr& c, int family, const unsigned char* addr) {
  if (c.family != family) return false;
  int full = c.bits / 8, rest = c.bits % 8;
  if (std::memcmp(c.addr, addr, static_cast<size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (c.addr[full] & mask) == (addr[full] & mask);
}

}  // namespace

bool network_brokered() { return g_brokered; }

bool is_captured(int family, const unsigned char* addr, uint16_t port) {
  // The same first-match walk as the nftables chain load_nat_rules() programs.
  for (const auto& cap : g_config.captures) {
    if (!cidr_contains(cap.cidr, family, addr)) continue;
    if (cap.port_lo != 0 && (port < cap.port_lo || port > cap.port_hi)) continue;
    return cap.redirect;
  }
  return false;
}

bool join_network(const Plan& plan) {
  if (plan.network.empty()) return true;
  // The session's keeper built the listeners, routes and capture chain in the namespace we joined;
  // this command only needs the capture list for its own connects.
  if (!parse_config(plan, &g_config)) return false;
  g_brokered = g_config.broker;
  return true;
}

bool setup_network(const Plan& plan) {
  if (plan.network.empty()) return true;
  Config& cfg = g_config;
  if (!parse_config(plan, &cfg)) return false;
  int domain = 0;
  socklen_t dlen = sizeof domain;
  if (::getsockopt(cfg.channel, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) != 0 || domain != AF_UNIX)
    return fail("network", "getsockopt", "the supervisor channel is not a unix socket");

  bool v6 = false;
  for (const auto& cap : cfg.captures) v6 = v6 || (cap.redirect && cap.cidr.family == AF_INET6);
  std::vector<int> fds;
  std::string names;
  auto add = [&](int fd, const char* name) {
    if (fd < 0) return false;
    fds.push_back(fd);
    names += names.empty() ? name : std::string(" ") + name;
    return true;
  };
  bool ok = add(make_socket(AF_INET, SOCK_STREAM, "127.0.0.1", cfg.capture_port, "capture listener"), "capture4") &&
            add(make_socket(AF_INET, SOCK_STREAM, "127.0.0.1", cfg.proxy_port, "proxy listener"), "proxy") &&
            add(make_socket(AF_INET, SOCK_DGRAM, kDnsAddress, 53, "dns (udp)"), "dns-udp") &&
            add(make_socket(AF_INET, SOCK_DGRAM, kDnsStubAddress, 53, "dns (udp, stub address)"), "dns-udp") &&
            add(make_socket(AF_INET, SOCK_STREAM, kDnsAddress, 53, "dns (tcp)"), "dns-tcp") &&
            (!v6 || add(make_socket(AF_INET6, SOCK_STREAM, "::1", cfg.capture_port, "capture listener (ipv6)"), "capture6")) &&
            add_local_routes(cfg) && load_nat_rules(cfg);
  // Init holds the listeners until the command first uses one (listeners.h); a session keeper runs
  // no command of its own, so its session's supervisor gets them now.
  hold_listeners(cfg.channel, std::move(names), std::move(fds));
  cfg.channel = -1;
  if (!ok) return drop_listeners(), false;
  if (plan.keeper && !hand_over_listeners()) return fail("network", "sendmsg", "listeners to the supervisor");
  g_brokered = cfg.broker;
  return true;
}

}  // namespace cordon
