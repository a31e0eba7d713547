// cordon tests – the plan's wire format: records encoded in one buffer are byte for byte the format the launcher reads.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { encodeCommand } from '../../dist/linux/plan.js';
import { Tag, WireWriter } from '../../dist/linux/wire.js';

/** The format spelled out (native/launcher/plan.h): u32 tag, u32 length, the payload's bytes. */
function reference(records: Array<[number, string | Buffer]>): Buffer {
  const parts: Buffer[] = [];
  for (const [tag, payload] of records) {
    const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    const header = Buffer.alloc(8);
    header.writeUInt32LE(tag, 0);
    header.writeUInt32LE(body.length, 4);
    parts.push(header, body);
  }
  return Buffer.concat(parts);
}

test('records, multi-byte text, binary payloads and raw parts encode exactly as the reference format', () => {
  const records: Array<[number, string | Buffer]> = [
    [Tag.arg, 'sh'],
    [Tag.arg, ''],
    [Tag.arg, 'größe ✓ 😀 \u{10FFFF}'],
    [Tag.env, `BIG=${'x'.repeat(70_000)}`],
    [Tag.seccomp, Buffer.from([0, 1, 2, 255, 254])],
  ];
  const w = new WireWriter();
  for (const [tag, p] of records) w.record(tag, p);
  const part = w.toBuffer();
  assert.deepEqual(part, reference(records));
  // A raw part is copied as it is, between records.
  const whole = new WireWriter().record(Tag.hostname, 'h').raw(part).fields(Tag.mount, 'bind-ro', '/a', '/b', '').toBuffer();
  assert.deepEqual(whole, Buffer.concat([reference([[Tag.hostname, 'h']]), part, reference([[Tag.mount, 'bind-ro\0/a\0/b\0']])]));
});

test('a command is its argv, env, cwd and end records, in that order', () => {
  const got = encodeCommand(['/bin/echo', 'héllo'], { A: '1', 'B_Ü': 'ü' }, '/work/dir');
  const want = reference([
    [Tag.arg, '/bin/echo'],
    [Tag.arg, 'héllo'],
    [Tag.env, 'A=1'],
    [Tag.env, 'B_Ü=ü'],
    [Tag.cwd, '/work/dir'],
    [Tag.end, ''],
  ]);
  assert.deepEqual(got, want);
});
