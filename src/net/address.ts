// cordon – IP address helpers for the network rules: CIDR matching and the SSRF classification
// (loopback, private, link-local, metadata, …), with IPv4-mapped/compatible IPv6 unwrapped first.
import { BlockList, isIP } from 'node:net';

/** An IPv4-mapped (::ffff:a.b.c.d) or NAT64 (64:ff9b::a.b.c.d) address as its IPv4 form; otherwise as given. */
export function canonicalIp(ip: string): string {
  const lower = ip.toLowerCase();
  const m = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (m?.[1]) return m[1];
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex?.[1] && hex[2]) {
    const hi = parseInt(hex[1], 16);
    const lo = parseInt(hex[2], 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return lower;
}

function family(ip: string): 'ipv4' | 'ipv6' | undefined {
  const f = isIP(ip);
  return f === 4 ? 'ipv4' : f === 6 ? 'ipv6' : undefined;
}

/** A set of CIDRs (v4 and v6) to test addresses against. */
export class CidrSet {
  private readonly list = new BlockList();
  private size = 0;

  add(cidr: string): this {
    const slash = cidr.indexOf('/');
    const ip = canonicalIp(slash >= 0 ? cidr.slice(0, slash) : cidr);
    const fam = family(ip);
    if (!fam) throw new Error(`not an IP address or CIDR: ${cidr}`);
    const max = fam === 'ipv4' ? 32 : 128;
    const bits = slash >= 0 ? Number(cidr.slice(slash + 1)) : max;
    this.list.addSubnet(ip, Math.min(bits, max), fam);
    this.size++;
    return this;
  }

  has(ip: string): boolean {
    if (this.size === 0) return false;
    const c = canonicalIp(ip);
    const fam = family(c);
    return fam !== undefined && this.list.check(c, fam);
  }
}

const SPECIAL: Array<[string, string]> = [
  ['0.0.0.0/8', 'an unspecified ("this network") address'],
  ['127.0.0.0/8', 'a loopback address'],
  ['10.0.0.0/8', 'a private (RFC 1918) address'],
  ['172.16.0.0/12', 'a private (RFC 1918) address'],
  ['192.168.0.0/16', 'a private (RFC 1918) address'],
  ['100.64.0.0/10', 'a carrier-grade NAT (shared) address'],
  ['169.254.0.0/16', 'a link-local address (cloud metadata lives here)'],
  ['192.0.0.0/24', 'an IETF protocol assignment address'],
  ['198.18.0.0/15', 'a benchmarking address'],
  ['224.0.0.0/4', 'a multicast address'],
  ['240.0.0.0/4', 'a reserved address'],
  ['::/128', 'an unspecified address'],
  ['::1/128', 'a loopback address'],
  ['::/96', 'an IPv4-compatible address'],
  ['fc00::/7', 'a unique-local (private) address'],
  ['fe80::/10', 'a link-local address'],
  ['fec0::/10', 'a site-local address'],
  ['ff00::/8', 'a multicast address'],
];
const specialSets = SPECIAL.map(([cidr, what]) => [new CidrSet().add(cidr), what] as const);

/**
 * Why an address is not a public destination (loopback, private, link-local/metadata, …), or
 * undefined for a public one. Hostname rules refuse these unless the rule sets allowPrivate.
 */
export function privateReason(ip: string): string | undefined {
  for (const [set, what] of specialSets) if (set.has(ip)) return what;
  return undefined;
}
