// cordon – the sandbox's DNS answerer: allowed names get a synthetic address from a private loopback
// pool (which the capture maps back to the name), everything else NXDOMAIN. Nothing is ever forwarded.
//
// Wire format: RFC 1035. One question per query; answers are A records only (AAAA and other types
// of an allowed name get an empty NOERROR answer, so clients fall back to IPv4).

/** The pool the answerer hands addresses out of; the launcher captures TCP to it. */
export const POOL_CIDR = '127.64.0.0/10';
const POOL_BASE = (127 << 24) | (64 << 16);
const POOL_SIZE = 1 << 22;
/** Names one command may have addresses for (a wildcard rule must not let it grow the supervisor's memory without end). */
const MAX_NAMES = 65_536;

export class AddressPool {
  private readonly byName = new Map<string, string>();
  private readonly byAddress = new Map<string, string>();
  private next = 1;

  /** The pool address for a name (stable for the lifetime of the pool). */
  addressFor(name: string): string {
    let addr = this.byName.get(name);
    if (addr) return addr;
    if (this.next >= Math.min(POOL_SIZE - 1, MAX_NAMES)) throw new Error('the DNS address pool is exhausted');
    const n = (POOL_BASE + this.next++) >>> 0;
    addr = `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
    this.byName.set(name, addr);
    this.byAddress.set(addr, name);
    return addr;
  }

  /** The name a pool address was handed out for. */
  nameFor(address: string): string | undefined {
    return this.byAddress.get(address);
  }

  /** Whether an address lies in the pool's range. */
  static contains(address: string): boolean {
    const m = /^127\.(\d+)\.\d+\.\d+$/.exec(address);
    return m !== null && Number(m[1]) >= 64 && Number(m[1]) <= 127;
  }
}

export const QTYPE = { A: 1, AAAA: 28, PTR: 12, ANY: 255 } as const;
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

export interface DnsQuestion {
  id: number;
  flags: number;
  name: string;
  qtype: number;
  qclass: number;
  /** Bytes of the question section (copied into the answer). */
  question: Buffer;
}

/** Parses a query with exactly one question; undefined when it is not one we can answer at all. */
export function parseQuery(msg: Buffer): DnsQuestion | { id: number; flags: number; error: number } | undefined {
  if (msg.length < 12) return undefined;
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  if (flags & 0x8000) return undefined; // a response, not a query
  const opcode = (flags >> 11) & 0xf;
  if (opcode !== 0) return { id, flags, error: RCODE.NOTIMP };
  if (msg.readUInt16BE(4) !== 1) return { id, flags, error: RCODE.FORMERR };
  const labels: string[] = [];
  let off = 12;
  for (;;) {
    if (off >= msg.length) return { id, flags, error: RCODE.FORMERR };
    const len = msg[off] ?? 0;
    if (len === 0) {
      off++;
      break;
    }
    if (len > 63 || off + 1 + len > msg.length) return { id, flags, error: RCODE.FORMERR };
    labels.push(msg.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
  }
  if (off + 4 > msg.length) return { id, flags, error: RCODE.FORMERR };
  const qtype = msg.readUInt16BE(off);
  const qclass = msg.readUInt16BE(off + 2);
  return { id, flags, name: labels.join('.').toLowerCase(), qtype, qclass, question: msg.subarray(12, off + 4) };
}

/** Builds a response: the question echoed, and an A record when `address` is given. */
export function buildResponse(q: { id: number; flags: number; question?: Buffer }, rcode: number, address?: string, ttl = 60): Buffer {
  const question = q.question ?? Buffer.alloc(0);
  const answer = address ? Buffer.alloc(16) : Buffer.alloc(0);
  if (address) {
    answer.writeUInt16BE(0xc00c, 0); // pointer to the question's name
    answer.writeUInt16BE(QTYPE.A, 2);
    answer.writeUInt16BE(1, 4);
    answer.writeUInt32BE(ttl, 6);
    answer.writeUInt16BE(4, 10);
    address.split('.').forEach((b, i) => answer.writeUInt8(Number(b), 12 + i));
  }
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.id, 0);
  // QR, opcode copied, AA, RD copied, RA, rcode
  header.writeUInt16BE(0x8000 | (q.flags & 0x7800) | 0x0400 | (q.flags & 0x0100) | 0x0080 | rcode, 2);
  header.writeUInt16BE(question.length ? 1 : 0, 4);
  header.writeUInt16BE(address ? 1 : 0, 6);
  return Buffer.concat([header, question, answer]);
}

export interface DnsOutcome {
  response: Buffer;
  /** Set when the query asked for a name the policy refuses (reported once per name). */
  refused?: { name: string; reason: string };
  answered?: { name: string; address: string };
}

/** Answers one query: `resolvable` is the rule engine's verdict for a name. */
export function answer(msg: Buffer, pool: AddressPool, resolvable: (name: string) => { allowed: boolean; reason: string }): DnsOutcome | undefined {
  const q = parseQuery(msg);
  if (!q) return undefined;
  if ('error' in q) return { response: buildResponse(q, q.error) };
  if (q.qclass !== 1 && q.qclass !== 255) return { response: buildResponse(q, RCODE.REFUSED) };
  const name = q.name.replace(/\.$/, '');
  const verdict = name === '' || name.endsWith('.arpa') ? { allowed: false, reason: 'reverse and root lookups are not answered' } : resolvable(name);
  if (!verdict.allowed) {
    const refused = name === '' || name.endsWith('.arpa') ? undefined : { name, reason: verdict.reason };
    return { response: buildResponse(q, RCODE.NXDOMAIN), ...(refused ? { refused } : {}) };
  }
  if (q.qtype !== QTYPE.A && q.qtype !== QTYPE.ANY) return { response: buildResponse(q, RCODE.NOERROR) };
  let address: string;
  try {
    address = pool.addressFor(name);
  } catch {
    return { response: buildResponse(q, RCODE.SERVFAIL) };
  }
  return { response: buildResponse(q, RCODE.NOERROR, address), answered: { name, address } };
}
