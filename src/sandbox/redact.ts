// cordon – redacts secret values from output, log events and errors: `[REDACTED:NAME]` in place of each value.
import { Transform, type Readable, type TransformCallback, type Writable } from 'node:stream';

import { CordonError } from '../errors.js';
import type { AuditLogger } from '../log/audit.js';

/** Secrets shorter than this are refused: redacting them would mangle ordinary output. */
export const MIN_SECRET_BYTES = 4;

interface Needle {
  name: string;
  value: Buffer;
  replacement: Buffer;
}

export class Redactor {
  private readonly needles: Needle[];
  /** Longest secret, in bytes: a stream holds back this much minus one between chunks. */
  readonly window: number;

  constructor(secrets: ReadonlyMap<string, string>) {
    // Longest first, so a secret that contains another is replaced whole.
    this.needles = [...secrets]
      .filter(([, v]) => v.length > 0)
      .map(([name, v]) => ({ name, value: Buffer.from(v, 'utf8'), replacement: Buffer.from(`[REDACTED:${name}]`) }))
      .sort((a, b) => b.value.length - a.value.length);
    this.window = this.needles.reduce((m, n) => Math.max(m, n.value.length), 0);
  }

  get empty(): boolean {
    return this.needles.length === 0;
  }

  /** Finds the leftmost (then longest) secret at or after `from`. */
  private next(buf: Buffer, from: number): { at: number; needle: Needle } | undefined {
    let best: { at: number; needle: Needle } | undefined;
    for (const needle of this.needles) {
      const at = buf.indexOf(needle.value, from);
      if (at >= 0 && (!best || at < best.at)) best = { at, needle };
    }
    return best;
  }

  /**
   * Redacts complete secrets in `buf`. With `holdBack`, returns also how many bytes at the end must
   * wait for more input (a secret may continue in the next chunk).
   */
  private redactParts(buf: Buffer, holdBack: boolean): { out: Buffer; rest: Buffer } {
    const parts: Buffer[] = [];
    let pos = 0;
    const safeEnd = holdBack ? Math.max(0, buf.length - (this.window - 1)) : buf.length;
    for (let m = this.next(buf, 0); m && m.at < safeEnd; m = this.next(buf, pos)) {
      parts.push(buf.subarray(pos, m.at), m.needle.replacement);
      pos = m.at + m.needle.value.length;
    }
    const emitTo = Math.max(pos, safeEnd);
    parts.push(buf.subarray(pos, emitTo));
    return { out: Buffer.concat(parts), rest: buf.subarray(emitTo) };
  }

  redactBuffer(buf: Buffer, truncated = false): Buffer {
    if (this.empty) return buf;
    let out = this.redactParts(buf, false).out;
    // Output cut at a cap may end in the first bytes of a secret: redact that prefix too.
    if (truncated) {
      for (const n of this.needles) {
        for (let len = Math.min(n.value.length - 1, out.length); len >= MIN_SECRET_BYTES - 1 && len > 0; len--) {
          if (out.subarray(out.length - len).equals(n.value.subarray(0, len))) {
            out = Buffer.concat([out.subarray(0, out.length - len), n.replacement]);
            break;
          }
        }
      }
    }
    return out;
  }

  redactString(s: string): string {
    if (this.empty) return s;
    let out = s;
    for (const n of this.needles) out = out.split(n.value.toString('utf8')).join(n.replacement.toString());
    return out;
  }

  /** Redacts every string inside plain objects and arrays (log events). */
  redactDeep<T>(value: T, depth = 0): T {
    if (this.empty || depth > 8) return value;
    if (typeof value === 'string') return this.redactString(value) as T;
    if (Buffer.isBuffer(value)) return this.redactBuffer(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.redactDeep(v, depth + 1)) as T;
    if (value instanceof Error) return this.redactError(value) as T;
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.redactDeep(v, depth + 1)])) as T;
    }
    return value;
  }

  /** An error with secret values taken out of its message and detail (a CordonError stays one). */
  redactError(err: unknown): unknown {
    if (this.empty || !(err instanceof Error)) return err;
    const message = this.redactString(err.message);
    if (message === err.message && !(err instanceof CordonError)) return err;
    if (err instanceof CordonError) {
      const out = new CordonError(err.code, message, this.redactDeep({ ...err.detail }));
      out.stack = this.redactString(err.stack ?? '');
      return out;
    }
    const out = new Error(message);
    out.name = err.name;
    out.stack = this.redactString(err.stack ?? '');
    return out;
  }

  /** A stream transform that redacts across chunk boundaries (holds back window-1 bytes). */
  stream(): Transform {
    let carry: Buffer = Buffer.alloc(0);
    return new Transform({
      transform: (chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) => {
        if (this.empty) return cb(null, chunk);
        const { out, rest } = this.redactParts(carry.length ? Buffer.concat([carry, chunk]) : chunk, true);
        carry = Buffer.from(rest);
        cb(null, out.length ? out : undefined);
      },
      flush: (cb: TransformCallback) => {
        const out = this.redactParts(carry, false).out;
        cb(null, out.length ? out : undefined);
      },
    });
  }

  /** Pipes `src` into `dst`, redacting on the way when there are secrets. */
  pipe(src: Readable, dst: Writable): void {
    if (this.empty) src.pipe(dst);
    else src.pipe(this.stream()).pipe(dst);
  }

  /** A logger whose every event is redacted (children too). */
  logger(log: AuditLogger): AuditLogger {
    if (this.empty) return log;
    const wrap = (l: AuditLogger): AuditLogger =>
      new Proxy(l, {
        get: (target, prop, receiver) => {
          const v = Reflect.get(target, prop, receiver) as unknown;
          if (prop === 'child' && typeof v === 'function') {
            return (bindings: object, opts?: object) => wrap((v as (b: object, o?: object) => AuditLogger).call(target, this.redactDeep(bindings), opts));
          }
          if (typeof prop === 'string' && ['trace', 'debug', 'info', 'warn', 'error', 'fatal'].includes(prop) && typeof v === 'function') {
            return (...args: unknown[]) => (v as (...a: unknown[]) => void).apply(target, args.map((a) => this.redactDeep(a)));
          }
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
    return wrap(log);
  }
}
