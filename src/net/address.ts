// cordon – IP address helpers for the network rules: CIDR matching and the SSRF classification
// (loopback, private, link-local, metadata, …), with IPv4-mapped, NAT64 and 6to4 IPv6 unwrapped first.
import { BlockList, isIP } from 'node:net';

/** The 16 bytes of an IPv6 address in any spelling (compressed, full, embedded dotted quad), or undefined. */
function ipv6Bytes(ip: string): number[] | undefined {
  if (isIP(ip) !== 6) return undefined;
  let text = ip.toLowerCase();
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  const words: number[] = [];
  const parseSide = (side: string): number[] | undefined => {
    if (side === '') return [];
    const out: number[] = [];
    for (const part of side.split(':')) {
      if (part.includes('.')) {
        const q = part.split('.').map(Number);
        if (q.length !== 4 || q.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) return undefined;
        out.push(((q[0] ?? 0) << 8) | (q[1] ?? 0), ((q[2] ?? 0) << 8) | (q[3] ?? 0));
      } else {
        out.push(parseInt(part, 16));
      }
    }
    return out;
  };
  const halves = text.split('::');
  const head = parseSide(halves[0] ?? '');
  const tail = halves.length > 1 ? parseSide(halves[1] ?? '') : [];
  if (!head || !tail) return undefined;
  words.push(...head, ...new Array<number>(Math.max(0, 8 - head.length - tail.length)).fill(0), ...tail);
  if (words.length !== 8) return undefined;
  return words.flatMap((w) => [w >> 8, w & 255]);
}

const startsWith = (bytes: number[], prefix: number[]): boolean => prefix.every((b, i) => bytes[i] === b);

/**
 * The IPv4 address an IPv6 address stands for, in whatever spelling: IPv4-mapped (::ffff:0:0/96),
 * NAT64 well-known prefix (64:ff9b::/96) and 6to4 (2002::/16, the IPv4 in bits 16-47) become the
 * IPv4 form, so deny rules and the SSRF guard see the real target; other addresses come back
 * lower-cased as given.
 */
export function canonicalIp(ip: string): string {
  const lower = ip.toLowerCase();
  const b = ipv6Bytes(lower);
  if (!b) return lower;
  const v4 = (at: number) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
  if (startsWith(b, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff])) return v4(12);
  if (startsWith(b, [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0])) return v4(12);
  if (startsWith(b, [0x20, 0x02])) return v4(2);
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
  ['64:ff9b:1::/48', 'a local-use NAT64 address (RFC 8215)'],
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
