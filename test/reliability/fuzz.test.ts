// cordon tests – hostile input: property-based tests (fast-check, fixed seed) of the CLI argument
// parser; huge argv/env near ARG_MAX (a clear error or success, never a hang); binary output and
// invalid UTF-8 kept byte-exact up to the cap and marked truncated beyond it.
// Longer run: CORDON_FUZZ_RUNS=200000 CORDON_FUZZ_SEED=<n> node test/run.mjs reliability/fuzz
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import fc from 'fast-check';

import type { Sandbox } from '../../dist/index.js';
import { parseRunArgs } from '../../dist/cli/args.js';
import { CordonError } from '../../dist/errors.js';
import { makeWorld, type World } from '../linux/fixture.js';

const SEED = Number(process.env.CORDON_FUZZ_SEED ?? 20261121);
const RUNS = Number(process.env.CORDON_FUZZ_RUNS ?? 3000);
const sha = (b: Buffer | Uint8Array) => createHash('sha256').update(b).digest('hex');

const FLAGS = [
  '--profile', '-p', '--write', '--read', '--deny', '--env', '--allow-net', '--deny-net', '--timeout', '--json',
  '--log-file', '--max-output', '--memory', '--pids', '--cpu-seconds', '--max-files', '--tmp-size', '--', '-', '--=',
];
const word = fc.oneof(
  fc.constantFrom(...FLAGS),
  fc.constantFrom(...FLAGS).chain((f) => fc.string().map((v) => `${f}=${v}`)),
  fc.constantFrom('0', '-1', '1e309', 'NaN', '512m', '1.5g', '0x10', ' 3', '9007199254740993', '', '='),
  fc.string(),
  fc.string({ unit: 'binary' }),
);

describe('hostile input', () => {
  it(`CLI parser: any argv gives RunArgs or BAD_ARGUMENT, never a crash (seed ${SEED}, ${RUNS} runs)`, () => {
    fc.assert(
      fc.property(fc.array(word, { maxLength: 12 }), (argv) => {
        let out;
        try {
          out = parseRunArgs(argv);
        } catch (e) {
          assert.ok(e instanceof CordonError, `not a CordonError: ${String(e)}`);
          assert.equal(e.code, 'BAD_ARGUMENT');
          return;
        }
        assert.ok(out.command.length > 0);
        if (out.pids !== undefined) assert.ok(Number.isSafeInteger(out.pids) && out.pids > 0);
        if (out.maxFiles !== undefined) assert.ok(Number.isSafeInteger(out.maxFiles) && out.maxFiles > 0);
        if (out.cpuSeconds !== undefined) assert.ok(Number.isFinite(out.cpuSeconds) && out.cpuSeconds > 0);
        if (out.timeoutSeconds !== undefined) assert.ok(Number.isFinite(out.timeoutSeconds) && out.timeoutSeconds > 0);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('CLI parser: well-formed limit flags round-trip', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1 << 20 }),
        fc.integer({ min: 1, max: 4096 }),
        fc.constantFrom('k', 'm', 'g', ''),
        fc.array(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 4 }),
        (pids, n, unit, command) => {
          const r = parseRunArgs(['--pids', String(pids), `--memory=${n}${unit}`, '--max-files', String(n), '--cpu-seconds', '2.5', '--', ...command]);
          assert.equal(r.pids, pids);
          assert.equal(r.maxFiles, n);
          assert.equal(r.memory, `${n}${unit}`);
          assert.equal(r.cpuSeconds, 2.5);
          assert.deepEqual(r.command, command);
        },
      ),
      { seed: SEED, numRuns: Math.min(RUNS, 500) },
    );
  });

  describe('commands', () => {
    let w: World;
    let sb: Sandbox;
    before(async () => {
      w = makeWorld();
      sb = await w.sandbox();
    });
    after(() => {
      sb.close();
      w.cleanup();
    });

    it('huge argv and env: success below the kernel limits, a clear E2BIG beyond, never a hang', async () => {
      const big = 'a'.repeat(100 * 1024); // under MAX_ARG_STRLEN (128 KiB)
      const ok = await sb.exec(['sh', '-c', 'echo $# ${#1}', 'sh', ...Array(10).fill(big)], { timeoutMs: 20_000 });
      assert.equal(ok.stdout.toString(), `10 ${big.length}\n`, ok.stderr.toString());
      const env = await sb.exec(['sh', '-c', 'echo ${#BIG}'], { env: { BIG: big }, timeoutMs: 20_000 });
      assert.equal(env.stdout.toString(), `${big.length}\n`);
      for (const [what, argv, envs] of [
        ['one argument over 128 KiB', ['true', 'b'.repeat(200 * 1024)], {}],
        ['4 MiB of arguments', ['true', ...Array(40).fill(big)], {}],
        ['4 MiB of environment', ['true'], Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`BIG${i}`, big]))],
      ] as const) {
        const t0 = performance.now();
        const r = await sb.exec([...argv], { env: envs, timeoutMs: 20_000 });
        assert.equal(r.exitCode, 126, `${what}: ${r.stderr}`);
        assert.match(r.execError ?? '', /E2BIG/, what);
        assert.ok(performance.now() - t0 < 10_000, `${what} answered promptly`);
      }
    });

    it('binary output and invalid UTF-8 are kept byte-exact', async () => {
      const data = Buffer.concat([randomBytes(3 * 1024 * 1024), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0])]);
      writeFileSync(path.join(w.ws, 'blob.bin'), data);
      const r = await sb.exec(['cat', 'blob.bin']);
      assert.equal(r.truncated, false);
      assert.equal(sha(r.stdout), sha(data));
      const e = await sb.exec(['sh', '-c', 'cat blob.bin >&2']);
      assert.equal(sha(e.stderr), sha(data));
    });

    it('output floods: bytes exact up to the cap, truncated beyond it (property, stdin → cat)', async () => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 200_000 }), fc.integer({ min: 1, max: 150_000 }), async (bytes, cap) => {
          const data = Buffer.from(bytes);
          const r = await sb.exec(['cat'], { stdin: data, maxOutputBytes: cap });
          const want = data.subarray(0, cap);
          assert.equal(sha(r.stdout), sha(want));
          assert.equal(r.truncated, data.length > cap);
          if (data.length > cap) assert.equal(r.limit, 'output');
          else assert.equal(r.exitCode, 0);
        }),
        { seed: SEED, numRuns: 30 },
      );
      const flood = await sb.exec(['sh', '-c', 'cat blob.bin; cat blob.bin; cat blob.bin'], { maxOutputBytes: 5 * 1024 * 1024 });
      assert.equal(flood.truncated, true);
      assert.equal(flood.stdout.length, 5 * 1024 * 1024);
    });
  });
});
