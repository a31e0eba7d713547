// cordon tests – the redactor: secrets split across chunks, overlapping secrets, truncated captures, log events and errors.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';

import fc from 'fast-check';

import { CordonError } from '../../dist/errors.js';
import { Redactor } from '../../dist/sandbox/redact.js';

const secrets = new Map([
  ['TOKEN', 'ghp_s3cr3tvalue'],
  ['SHORT', 'abcd'],
  ['LONGER', 'ghp_s3cr3tvalue_and_more'],
]);
const r = new Redactor(secrets);

/** What the whole text must become: every occurrence replaced, longest secret first at each position. */
function expected(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; ) {
    const hit = [...secrets].sort((a, b) => b[1].length - a[1].length).find(([, v]) => text.startsWith(v, i));
    if (hit) {
      out += `[REDACTED:${hit[0]}]`;
      i += hit[1].length;
    } else out += text[i++];
  }
  return out;
}

async function throughStream(chunks: Buffer[]): Promise<string> {
  const src = new PassThrough();
  const dst = new PassThrough();
  const got: Buffer[] = [];
  dst.on('data', (c: Buffer) => got.push(c));
  const done = new Promise((resolve) => dst.on('end', resolve));
  r.pipe(src, dst);
  for (const c of chunks) src.write(c);
  src.end();
  await done;
  return Buffer.concat(got).toString();
}

test('buffers: every occurrence, longest secret first', () => {
  const text = 'a ghp_s3cr3tvalue b ghp_s3cr3tvalue_and_more c abcdabcd';
  assert.equal(r.redactBuffer(Buffer.from(text)).toString(), 'a [REDACTED:TOKEN] b [REDACTED:LONGER] c [REDACTED:SHORT][REDACTED:SHORT]');
  assert.equal(r.redactString(text), r.redactBuffer(Buffer.from(text)).toString());
});

test('streams: secrets split at every possible chunk boundary are redacted (fixed-seed property)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.oneof(fc.constantFrom(...secrets.values()), fc.string({ maxLength: 12 })), { maxLength: 12 }),
      fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 40 }),
      async (parts, cuts) => {
        const text = parts.join('');
        const buf = Buffer.from(text);
        const chunks: Buffer[] = [];
        let pos = 0;
        for (let i = 0; pos < buf.length; i++) {
          const n = cuts[i % cuts.length] as number;
          chunks.push(buf.subarray(pos, pos + n));
          pos += n;
        }
        const streamed = await throughStream(chunks);
        assert.equal(streamed, expected(text));
        for (const v of secrets.values()) assert.ok(!streamed.includes(v));
      },
    ),
    { seed: 20261121, numRuns: 400 },
  );
});

test('a capture cut at the cap does not leak the first bytes of a secret', () => {
  const cut = Buffer.from('output ghp_s3cr3t');
  assert.equal(r.redactBuffer(cut, true).toString(), 'output [REDACTED:LONGER]');
  assert.equal(r.redactBuffer(cut, false).toString(), 'output ghp_s3cr3t', 'only truncated captures treat a prefix as a secret');
});

test('log events and errors are redacted; a CordonError stays one', () => {
  const events: unknown[] = [];
  const fake = {
    info: (...a: unknown[]) => events.push(a),
    child: () => fake,
  };
  const log = r.logger(fake as never);
  log.child({ runId: 'x' }).info({ argv: ['curl', '-H', 'Authorization: ghp_s3cr3tvalue'], nested: { list: ['abcd'] } }, 'msg abcd');
  assert.equal(JSON.stringify(events).includes('ghp_s3cr3tvalue'), false);
  assert.match(JSON.stringify(events), /REDACTED:TOKEN.*REDACTED:SHORT.*msg \[REDACTED:SHORT\]/);
  const err = r.redactError(new CordonError('SETUP_FAILED', 'failed with ghp_s3cr3tvalue', { hint: 'abcd' })) as CordonError;
  assert.ok(err instanceof CordonError);
  assert.equal(err.message, 'failed with [REDACTED:TOKEN]');
  assert.equal(err.detail.hint, '[REDACTED:SHORT]');
  assert.ok(!(err.stack ?? '').includes('ghp_s3cr3tvalue'));
});
