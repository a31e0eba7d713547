// cordon tests – the launch server: a command forked through it gets exactly what a spawned launcher
// gives (signal state, fds), and when the server dies, its sandboxes die with it and the next
// command starts a new one.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';

import type { Sandbox } from '../../dist/index.js';
import { makeWorld, type World } from './fixture.js';

/** This process's launch servers (children started with --server). */
function servers(): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').includes('--server')) out.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** The signal state and open fds a command sees (SigIgn/SigBlk masks, fd list). */
const PROBE = ['sh', '-c', 'grep -E "^(SigIgn|SigBlk):" /proc/self/status; ls /proc/self/fd | tr "\\n" " "'];

describe('launch server', () => {
  let w: World;
  let sb: Sandbox;
  before(async () => {
    w = makeWorld();
    sb = await w.sandbox({ prespawn: false });
    for (let i = 0; i < 2; i++) await sb.exec(['true']); // the second launch starts the server
  });
  after(() => {
    sb.close();
    w.cleanup();
  });

  it('a command forked through the server sees the same signal state and fds as one from a spawned launcher (control: CORDON_LAUNCH_SERVER=0)', async () => {
    assert.equal(servers().length, 1, 'one resident server');
    const viaServer = await sb.exec(PROBE);
    process.env.CORDON_LAUNCH_SERVER = '0';
    let spawned;
    try {
      spawned = await sb.exec(PROBE);
    } finally {
      delete process.env.CORDON_LAUNCH_SERVER;
    }
    assert.equal(viaServer.exitCode, 0, viaServer.stderr.toString());
    assert.match(viaServer.stdout.toString(), /SigIgn:\s+0{16}/, 'nothing ignored (SIGPIPE has its default)');
    assert.equal(viaServer.stdout.toString(), spawned.stdout.toString());
    // SIGPIPE at its default: a writer into a closed pipe dies of it, silently
    const yes = await sb.exec(['sh', '-c', 'yes | head -c 1 >/dev/null; echo done']);
    assert.equal(yes.stdout.toString(), 'done\n');
    assert.equal(yes.stderr.toString(), '');
  });

  it('the setup decoded ahead for the next standby is used only for a byte-identical setup: two Sandboxes launched alternately each get their own policy (control: the file is readable on the host)', async () => {
    const secret = `${w.ws}/alternate-secret`;
    writeFileSync(secret, 'SECRET\n');
    assert.equal(readFileSync(secret, 'utf8'), 'SECRET\n', 'control');
    const denying = await w.sandbox({ prespawn: false, deny: [secret] });
    try {
      const seen: string[] = [];
      for (let i = 0; i < 6; i++) {
        for (const [name, box] of [['deny', denying], ['plain', sb]] as const) {
          for (let k = 0; k < 2; k++) {
            const r = await box.exec(['sh', '-c', `cat ${secret} 2>/dev/null || echo HIDDEN`]);
            seen.push(`${name}:${r.stdout.toString().trim()}`);
          }
        }
      }
      assert.deepEqual([...new Set(seen)].sort(), ['deny:HIDDEN', 'plain:SECRET'], seen.join(' '));
    } finally {
      await denying.close();
    }
  });

  it('killing the server kills its running sandboxes at once, nothing survives, and the next command starts a new server', async () => {
    const marker = `cordon-ls-${process.pid}-${Date.now()}`;
    const [server] = servers();
    assert.ok(server, 'a server is running');
    const run = sb.exec(['sh', '-c', 'sleep 30; echo never', marker], { timeoutMs: 20_000 });
    // Polled: on a loaded host the command may take a while to start.
    for (let i = 0; i < 200 && spawnSync('pgrep', ['-f', marker]).stdout.length === 0; i++) await sleep(50);
    assert.ok(spawnSync('pgrep', ['-f', marker]).stdout.length > 0, 'control: the command is running');
    const t0 = Date.now();
    process.kill(server, 'SIGKILL');
    const r = await run;
    assert.ok(Date.now() - t0 < 5000, 'the command ended with the server, not at its timeout');
    assert.notEqual(r.exitCode, 0);
    assert.doesNotMatch(r.stdout.toString(), /never/);
    for (let i = 0; i < 40 && spawnSync('pgrep', ['-f', marker]).stdout.length > 0; i++) await sleep(50);
    assert.equal(spawnSync('pgrep', ['-f', marker]).stdout.toString(), '', 'nothing of the sandbox survives');
    const next = await sb.exec(['echo', 'again']);
    assert.equal(next.stdout.toString(), 'again\n');
    const now = servers();
    assert.equal(now.length, 1);
    assert.notEqual(now[0], server, 'a new server');
  });
});
