// cordon – the launcher's part of allowlist networking: which destinations the sandbox's nftables
// chain captures, the listener ports, the resolv.conf mount and the proxy environment.
import { lstatSync, readFileSync, realpathSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';

import type { NetworkPolicy, Policy } from '../policy/policy.js';
import { packageRoot } from '../paths.js';
import { POOL_CIDR } from './dns.js';

/** Where the launcher puts the supervisor channel in the launcher (spawn stdio index). */
export const CHANNEL_FD = 4;
/** Inside the sandbox: the transparent capture listener (127.0.0.1 / [::1]) and the proxy listener (127.0.0.1). */
export const CAPTURE_PORT = 15001;
export const PROXY_PORT = 3128;

export interface Capture {
  action: 'redirect' | 'accept';
  cidr: string;
  /** Inclusive; [0, 0] = any port. */
  ports: [number, number];
}

function ruleIsIp(host: string): boolean {
  const slash = host.indexOf('/');
  return isIP(slash >= 0 ? host.slice(0, slash) : host) !== 0;
}

function cidrOf(host: string): string {
  if (host.includes('/')) return host;
  return isIP(host) === 6 ? `${host}/128` : `${host}/32`;
}

/**
 * The capture list, in rule order: cordon's own listeners are never captured; then the DNS pool; then
 * the IP/CIDR allow rules; then, for `*`, everything but the sandbox's own loopback. Captures cover
 * every port, so the supervisor sees (and reports) a denied port instead of the kernel refusing it
 * silently. Addresses no rule names stay unroutable (ENETUNREACH).
 */
export function captures(network: NetworkPolicy): Capture[] {
  let known = capturesOf.get(network.rules);
  if (!known || !sameRules(known.rules, network.rules)) {
    known = { rules: [...network.rules], captures: planCaptures(network.rules) };
    capturesOf.set(network.rules, known);
  }
  // Copies: callers may keep or change what they get.
  return known.captures.map((c) => ({ action: c.action, cidr: c.cidr, ports: [c.ports[0], c.ports[1]] }));
}

/** The captures per rule list (a compile hands back the same frozen rules while the profile is the same). */
const capturesOf = new WeakMap<NetworkPolicy['rules'], { rules: NetworkPolicy['rules']; captures: readonly Capture[] }>();

/** Rule by rule, the fields captures() reads (a caller's array may have changed in place). */
function sameRules(a: NetworkPolicy['rules'], b: NetworkPolicy['rules']): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]?.action !== b[i]?.action || a[i]?.host !== b[i]?.host) return false;
  return true;
}

function planCaptures(rules: NetworkPolicy['rules']): Capture[] {
  const out: Capture[] = [
    { action: 'accept', cidr: '127.0.0.1/32', ports: [53, 53] },
    { action: 'accept', cidr: '127.0.0.53/32', ports: [53, 53] },
    { action: 'accept', cidr: '127.0.0.1/32', ports: [PROXY_PORT, PROXY_PORT] },
    { action: 'accept', cidr: '127.0.0.1/32', ports: [CAPTURE_PORT, CAPTURE_PORT] },
  ];
  const any: [number, number] = [0, 0];
  const allows = rules.filter((r) => r.action === 'allow');
  if (allows.some((r) => !ruleIsIp(r.host))) out.push({ action: 'redirect', cidr: POOL_CIDR, ports: any });
  const cidrs = new Set(allows.filter((r) => r.host !== '*' && ruleIsIp(r.host)).map((r) => cidrOf(r.host)));
  for (const cidr of cidrs) out.push({ action: 'redirect', cidr, ports: any });
  if (allows.some((r) => r.host === '*')) {
    out.push({ action: 'accept', cidr: '127.0.0.0/8', ports: any }, { action: 'accept', cidr: '::1/128', ports: any });
    out.push({ action: 'redirect', cidr: '0.0.0.0/0', ports: any }, { action: 'redirect', cidr: '::/0', ports: any });
  }
  return out;
}

let yamaReason: string | undefined;

/**
 * Why the sandbox's pid 1 cannot perform connect() for the command here ('' when it can: the connect
 * broker, native/launcher/connect_broker.cc). It takes the caller's socket with pidfd_getfd, which
 * Yama's ptrace_scope 2 (admin only) and 3 (none) refuse to a process without CAP_SYS_PTRACE; there,
 * and with CORDON_NET_BROKER=0 (comparisons, tests), the kernel connects: the unix-socket guard is
 * off and allowed traffic is relayed. Yama is read once per process (a plan is made per compile);
 * should an administrator raise it later, pidfd_getfd fails and connects are refused (EPERM).
 */
export function brokerUnusableReason(): string {
  if (process.env.CORDON_NET_BROKER === '0') return 'CORDON_NET_BROKER=0';
  if (yamaReason === undefined) {
    try {
      const scope = Number(readFileSync('/proc/sys/kernel/yama/ptrace_scope', 'utf8').trim());
      yamaReason = scope < 2 ? '' : `Yama ptrace_scope is ${scope}: pid 1 may not take the caller's socket (pidfd_getfd)`;
    } catch {
      yamaReason = ''; // no Yama
    }
  }
  return yamaReason;
}

/** The shipped resolv.conf that names cordon's answerer. */
export function resolvConfPath(): string {
  return (shippedResolvConf ??= realpathSync(path.join(packageRoot(), 'native', 'addon', 'resolv.conf')));
}

/** Resolved once per process (a plan is made per compile): the package does not move under a running process. */
let shippedResolvConf: string | undefined;

/** /etc/resolv.conf and the paths above it: a deny list that names one of them hides it. */
const RESOLV_CONF_AND_ABOVE = ['/etc/resolv.conf', '/etc', '/'];

/**
 * The resolv.conf mount: only when the sandbox sees the host's /etc/resolv.conf as a regular file
 * (a symlink, e.g. to systemd-resolved's stub, dangles inside or names 127.0.0.53, which cordon's
 * answerer also serves; a missing file means resolvers default to 127.0.0.1, which it serves too).
 */
export function resolvConfMount(policy: Policy): { kind: 'bind-ro'; src: string; dst: string; opt: string } | undefined {
  const target = '/etc/resolv.conf';
  const under = (p: string, root: string) => p === root || root === '/' || p.startsWith(root + '/');
  // The deny list is long (a thousand entries) and normalised: only these three of its paths can cover the file.
  if (!policy.fs.read.some((r) => under(target, r)) || RESOLV_CONF_AND_ABOVE.some((d) => policy.fs.deny.includes(d))) return undefined;
  try {
    if (!lstatSync(target).isFile()) return undefined;
  } catch {
    return undefined;
  }
  return { kind: 'bind-ro', src: resolvConfPath(), dst: target, opt: '' };
}

/** Proxy variables for proxy-aware clients (HTTP CONNECT / plain HTTP / SOCKS5 with remote DNS). */
export function proxyEnv(): Record<string, string> {
  const http = `http://127.0.0.1:${PROXY_PORT}`;
  const socks = `socks5h://127.0.0.1:${PROXY_PORT}`;
  const noProxy = 'localhost,127.0.0.1,::1';
  return {
    HTTP_PROXY: http,
    HTTPS_PROXY: http,
    ALL_PROXY: socks,
    NO_PROXY: noProxy,
    http_proxy: http,
    https_proxy: http,
    all_proxy: socks,
    no_proxy: noProxy,
  };
}
