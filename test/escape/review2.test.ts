// cordon tests – security review 2 (docs/security-review-2.md): holes found in the changes of the
// launch-server / pid_max / Landlock-scoping day. Tests named HOLE fail while the hole is open; fixed ones are named regression.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, writeFileSync as put } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';

import { hasUnshare, isRoot, repoRoot } from '../linux/fixture.js';

// A global (not pid-namespaced) sysctl that is harmless to write: the stand-in for pid_max on
// Linux < 6.14, where pid_max is one value for the whole host.
const STAND_IN = '/proc/sys/kernel/printk_ratelimit';

// Runs "$@" in a private mount namespace whose /proc is the real procfs except that
// /proc/sys/kernel/pid_max is the stand-in: what a launcher sees on a kernel before 6.14.
const EMULATE_OLD_KERNEL = String.raw`
set -e
R="$EMU_PROC"; mount -t proc proc "$R"
mount -t tmpfs tmpfs /proc
for e in "$R"/* "$R"/.[!.]*; do n=$(basename "$e"); [ "$n" = sys ] || ln -s "$e" /proc/"$n"; done
mkdir /proc/sys; for e in "$R"/sys/*; do n=$(basename "$e"); [ "$n" = kernel ] || ln -s "$e" /proc/sys/"$n"; done
mkdir /proc/sys/kernel; for e in "$R"/sys/kernel/*; do n=$(basename "$e"); [ "$n" = pid_max ] || ln -s "$e" /proc/sys/kernel/"$n"; done
ln -s "$R"/sys/kernel/printk_ratelimit /proc/sys/kernel/pid_max
exec "$@"
`;

describe('default process cap (pid_max) on kernels where pid_max is global', () => {
  it('regression (review 2, H1): a root caller\'s sandbox does not write the host\'s global pid_max (emulated pre-6.14 /proc; control: userns root mapped onto host root writes a global sysctl)', async (t) => {
    if (!isRoot || !hasUnshare) {
      t.skip('root only: for other callers the userns euid is not the host root, so a global sysctl refuses the write');
      return;
    }
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cordon-review2-'));
    const before = readFileSync(STAND_IN, 'utf8').trim();
    try {
      // Control: root mapped onto itself in a user namespace (what the launcher does) writes a
      // global sysctl through the host procfs: sysctl permission is "euid == GLOBAL_ROOT_UID".
      const c = spawnSync('unshare', ['--user', '--map-user=0', '--map-group=0', 'sh', '-c', `echo 7 > ${STAND_IN}`], { encoding: 'utf8' });
      assert.equal(c.status, 0, c.stderr);
      assert.equal(readFileSync(STAND_IN, 'utf8').trim(), '7', 'control: a user namespace mapped onto host root writes global sysctls');
      put(STAND_IN, before);

      // The attack surface: a plain `sb.exec` by a root caller with no limits.pids, on a kernel
      // whose pid_max is global. The probe's "the write succeeded" is taken as "pid_max is per
      // namespace", and pid 1 then writes 4097 into the host's pid_max.
      mkdirs(dir);
      const script = path.join(dir, 'child.mjs');
      writeFileSync(
        script,
        `import { Sandbox } from ${JSON.stringify(path.join(repoRoot, 'dist', 'index.js'))};
const sb = await Sandbox.create({ workspace: ${JSON.stringify(path.join(dir, 'ws'))}, home: ${JSON.stringify(path.join(dir, 'home'))} });
try { const r = await sb.exec(['sh', '-c', 'echo ran']); process.stdout.write(r.stdout); } finally { await sb.close(); }
`,
      );
      const emu = path.join(dir, 'emu.sh');
      writeFileSync(emu, EMULATE_OLD_KERNEL);
      const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', emu, process.execPath, script], {
        encoding: 'utf8',
        env: { ...process.env, EMU_PROC: path.join(dir, 'proc') },
        timeout: 30_000,
      });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /ran/);
      assert.equal(readFileSync(STAND_IN, 'utf8').trim(), before, 'the host\'s global pid_max (stand-in) was rewritten by the sandbox launch');
    } finally {
      put(STAND_IN, before);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function mkdirs(dir: string): void {
  for (const d of ['ws', 'home', 'proc']) spawnSync('mkdir', ['-p', path.join(dir, d)]);
}
