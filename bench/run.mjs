// cordon – `npm run bench`: measures cordon side by side with the baselines in one run; writes
// bench/results/latest.json and docs/benchmarks.md (the machine is described in both).
//   node bench/run.mjs [--quick] [--only syscalls,launch,workload,scale,net,load]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { Sandbox } = await import(path.join(root, 'dist', 'index.js'));
const { pinnedTo, samples, stats, takeTurns } = await import('./timing.mjs');
const quick = process.argv.includes('--quick');
const onlyArg = process.argv.find((a) => a.startsWith('--only'));
const only = onlyArg ? (onlyArg.split('=')[1] ?? process.argv[process.argv.indexOf(onlyArg) + 1]).split(',') : undefined;
const want = (name) => !only || only.includes(name);

const N = quick ? 30 : 120;
const ms = (x) => x.toFixed(2);

async function timeIt(n, fn, options) {
  return stats(await samples(n, fn, options));
}

function spawnWait(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    c.stdout.resume();
    c.stderr.resume();
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}`))));
  });
}

function machine() {
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  const lsb = existsSync('/etc/os-release') ? /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] : undefined;
  return { cpu, cores: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30), kernel: os.release(), os: lsb, node: process.version, uid: process.getuid?.(), loadavg: os.loadavg().map((x) => x.toFixed(2)).join(' ') };
}

const which = (b) => spawnSync('sh', ['-c', `command -v ${b}`], { encoding: 'utf8' }).stdout.trim() || undefined;
const results = { machine: machine(), date: new Date().toISOString(), quick, sections: {} };
const md = [];
const work = mkdtempSync(path.join(os.tmpdir(), 'cordon-bench-'));

try {
  if (want('syscalls')) {
    const { runSyscallBench } = await import('./syscalls.mjs');
    const r = await runSyscallBench({ reps: quick ? 3 : 11 });
    results.sections.syscalls = r;
    md.push('## 1. System calls: plain, the 1-instruction floor, inside cordon\n', r.markdown, '');
  }

  if (want('syscalls')) {
    // The same binary, unfiltered by itself, run inside a real sandbox (every layer on: namespaces,
    // mount tree, Landlock, cordon's seccomp filter) against the host's plain and 1-insn floor.
    const ws = path.join(work, 'sysws');
    mkdirSync(ws);
    const bin = path.join(ws, 'syscalls');
    spawnSync('cc', ['-O2', '-o', bin, path.join(root, 'bench', 'syscalls.c')]);
    const target = path.join(ws, 'target-file');
    writeFileSync(target, 'x'.repeat(4096));
    const pin = pinnedTo(1);
    const sb = await Sandbox.create({ workspace: ws, prespawn: false });
    const parse = (out) => Object.fromEntries(out.trim().split('\n').map((l) => l.split(' ')).map(([op, ns]) => [op, Number(ns)]));
    const samples = { plain: [], floor: [], inside: [] };
    const insideReps = quick ? 3 : 25;
    const onHost = (mode) => {
      const argv = [...pin, bin, mode, target];
      return parse(spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' }).stdout);
    };
    const run = {
      plain: async () => onHost('plain'),
      floor: async () => onHost('floor'),
      inside: async () => {
        const r = await sb.exec([...pin, bin, 'plain', target]);
        if (r.exitCode !== 0) throw new Error(`syscall bench inside the sandbox failed: ${r.stderr}`);
        return parse(r.stdout.toString());
      },
    };
    const order = ['plain', 'floor', 'inside'];
    for (let rep = 0; rep < insideReps; rep++) {
      // Which of the three goes first rotates, so none always follows the same one.
      for (let k = 0; k < 3; k++) {
        const m = order[(k + rep) % 3];
        samples[m].push(await run[m]());
      }
    }
    await sb.close();
    const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    // Ratios are paired: each run inside is divided by the plain and floor runs made beside it, and
    // the median of those ratios is reported, so a drift of the host's speed over the minute this
    // takes (a few % here) cancels instead of landing on whichever of the three it favoured.
    const rows = Object.keys(samples.plain[0]).map((op) => {
      const [pl, fl, ins] = ['plain', 'floor', 'inside'].map((m) => med(samples[m].map((x) => x[op])));
      const paired = (base) => med(samples.inside.map((x, i) => x[op] / samples[base][i][op]));
      return { op, plain: pl, floor: fl, inside: ins, vsPlain: paired('plain'), vsFloor: paired('floor') };
    });
    results.sections.syscallsInside = rows;
    md.push('### 1b. The same syscalls inside a full cordon sandbox (namespaces, mounts, Landlock, seccomp)\n',
      `ns/op, median of ${insideReps} interleaved runs of each (plain, floor, inside); the ratios are medians of each inside run over the plain and floor runs beside it.\n`,
      '| operation | plain ns | floor ns | inside cordon ns | inside / plain | inside / floor |', '|---|---:|---:|---:|---:|---:|',
      ...rows.map((r) => `| ${r.op} | ${r.plain.toFixed(1)} | ${r.floor.toFixed(1)} | ${r.inside.toFixed(1)} | ${r.vsPlain.toFixed(3)} | ${r.vsFloor.toFixed(3)} |`), '');
  }

  if (want('launch')) {
    const ws = path.join(work, 'ws');
    mkdirSync(ws);
    const cold = await Sandbox.create({ workspace: ws, prespawn: false });
    const warm = await Sandbox.create({ workspace: ws, prespawn: true });
    const session = await warm.session();
    const serverOff = async (fn) => {
      process.env.CORDON_LAUNCH_SERVER = '0';
      try {
        await fn();
      } finally {
        delete process.env.CORDON_LAUNCH_SERVER;
      }
    };
    const bwrap = which('bwrap');
    const bwrapArgs = ['--unshare-all', '--die-with-parent', '--new-session', '--ro-bind', '/usr', '/usr', '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/lib', '/lib', '--symlink', 'usr/lib64', '/lib64', '--ro-bind', '/etc', '/etc', '--bind', ws, ws, '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp'];
    const gap = 'idle cores between commands make every launch slower: compare with the rows below that have gaps';
    const specs = [
      { name: 'node child_process.spawn `true` (no sandbox)', fn: () => spawnWait('/bin/true', []) },
      { name: 'node child_process.spawn `true`, 10 ms between commands', fn: () => spawnWait('/bin/true', []), gapMs: 10, note: gap },
      { name: 'cordon exec, cold (namespaces built per command)', fn: () => cold.exec(['/bin/true']), note: 'launchers forked by the launch server' },
      { name: 'cordon exec, cold, launcher spawned by Node (launch server off)', fn: () => serverOff(() => cold.exec(['/bin/true'])), note: 'child_process.spawn per command, as before the launch server' },
      { name: 'cordon exec, pre-built sandbox, 10 ms between commands', fn: () => warm.exec(['/bin/true']), gapMs: 10, note: 'each command still gets fresh namespaces, built while the agent thinks' },
      { name: 'cordon exec, pre-built sandbox, back to back', fn: () => warm.exec(['/bin/true']), note: 'the next sandbox is still being built when the command arrives' },
      { name: 'cordon warm session (sandbox built once), 10 ms between commands', fn: () => session.exec(['/bin/true']), gapMs: 10, note: 'own pid namespace, stdio, exit status per command' },
      { name: 'cordon warm session, back to back', fn: () => session.exec(['/bin/true']) },
    ];
    const missing = [];
    if (bwrap) {
      const { buildSeccompFilter } = await import(path.join(root, 'dist', 'linux', 'seccomp', 'index.js'));
      const bpf = path.join(work, 'filter.bpf');
      writeFileSync(bpf, buildSeccompFilter({ network: 'none', denyAction: 'errno' }).program);
      specs.push(
        { name: `bubblewrap (${spawnSync(bwrap, ['--version'], { encoding: 'utf8' }).stdout.trim()})`, fn: () => spawnWait(bwrap, [...bwrapArgs, '/bin/true']), note: 'namespaces + binds, no Landlock, no seccomp' },
        { name: 'bubblewrap + cordon\'s seccomp filter (--seccomp)', fn: () => spawnWait('sh', ['-c', `exec ${bwrap} --seccomp 9 ${bwrapArgs.join(' ')} /bin/true 9<${bpf}`]), note: 'sh adds ~0.5 ms to pass the fd' },
      );
      // bwrap has no Landlock: a small helper inside it applies the domain cordon would, then execs.
      // (bwrap's /tmp tmpfs hides the workspace, so the helper gets a bind of its own.)
      const landlockExec = path.join(ws, 'landlock-exec');
      const built = spawnSync('cc', ['-O2', '-o', landlockExec, path.join(root, 'bench', 'landlock-exec.c')], { encoding: 'utf8' });
      const works = built.status === 0 && spawnSync(landlockExec, ['/tmp', '/dev', '--', '/bin/true']).status === 0;
      if (works) {
        specs.push({ name: 'bubblewrap + Landlock + cordon\'s seccomp filter', fn: () => spawnWait('sh', ['-c', `exec ${bwrap} --seccomp 9 ${bwrapArgs.join(' ')} --ro-bind ${landlockExec} /landlock-exec /landlock-exec /tmp /dev -- /bin/true 9<${bpf}`]), note: 'Landlock as cordon applies it (bench/landlock-exec.c: one more bind and one more exec, ~0.5 ms of it)' });
      } else {
        missing.push({ name: 'bubblewrap + Landlock + cordon\'s seccomp filter', n: 0, note: `not measured: ${built.status !== 0 ? `no C compiler (${(built.stderr ?? String(built.error)).trim().split('\n')[0]})` : 'Landlock unavailable here'}` });
      }
    }
    // Every row first runs WARM unmeasured commands (Node's JIT and the kernel's caches warm, as in
    // an agent's long-lived process), then the rows take turns (timing.mjs); the pause before each
    // turn lets a pre-built sandbox's refill finish before the next row starts.
    const WARM = quick ? 10 : 60;
    const ROUNDS = quick ? 3 : 6;
    const times = await takeTurns(specs, { n: N, rounds: ROUNDS, warmup: WARM, roundWarmup: 2, settleMs: 20 });
    await session.close();
    await warm.close();
    await cold.close();
    const rows = specs.map((s, i) => ({ name: s.name, ...stats(times[i]), note: s.note ?? '' }));
    rows.push(...missing);
    if (!bwrap) rows.push({ name: 'bubblewrap', n: 0, note: 'not installed (apt-get install bubblewrap)' });
    // What a fresh Node process sees (cold JIT): its first commands, in a child process of its own.
    const FRESH = quick ? 30 : 100;
    const fresh = spawnSync(process.execPath, ['--input-type=module', '-e', `
      const { Sandbox } = await import(${JSON.stringify(path.join(root, 'dist', 'index.js'))});
      const sb = await Sandbox.create({ workspace: ${JSON.stringify(ws)}, prespawn: false });
      const xs = [];
      for (let i = 0; i < ${FRESH}; i++) { const t = performance.now(); await sb.exec(['/bin/true']); xs.push(performance.now() - t); }
      await sb.close();
      console.log(JSON.stringify(xs));`], { encoding: 'utf8' });
    const freshTimes = fresh.status === 0 ? JSON.parse(fresh.stdout.trim().split('\n').pop()) : [];
    rows.push(freshTimes.length
      ? { name: `cordon exec, cold, the first ${FRESH} commands of a fresh Node process`, ...stats(freshTimes), note: 'no warm-up: Node compiles cordon\'s and its own stream code as it goes (the rows above are after it)' }
      : { name: 'cordon exec, cold, a fresh Node process', n: 0, note: `could not run: ${fresh.stderr.trim().split('\n').pop()}` });
    const firejail = which('firejail');
    if (firejail && process.getuid?.() === 0) rows.push({ name: 'firejail --noprofile', ...(await timeIt(Math.min(N, 30), () => spawnWait(firejail, ['--quiet', '--noprofile', '/bin/true']))), note: '' });
    else rows.push({ name: 'firejail', n: 0, note: firejail ? 'needs its setuid helper; skipped for this user' : 'not installed' });
    results.sections.launch = rows;
    md.push('## 2. `true` through the exec API\n',
      `Each row ran ${WARM} unmeasured commands first; then the rows took turns in ${ROUNDS} rounds of ${Math.ceil(N / ROUNDS)} commands (after 2 more unmeasured), so each row's median spans the same stretch of the host's load. Firejail and the fresh-process row ran on their own.\n`,
      '| what | median ms | p10 | p90 | n | note |', '|---|---:|---:|---:|---:|---|',
      ...rows.map((r) => (r.n ? `| ${r.name} | ${ms(r.median)} | ${ms(r.p10)} | ${ms(r.p90)} | ${r.n} | ${r.note} |` : `| ${r.name} | – | – | – | 0 | ${r.note} |`)), '');
  }

  if (want('workload')) {
    const ws = path.join(work, 'repo');
    mkdirSync(ws);
    for (let i = 0; i < 300; i++) writeFileSync(path.join(ws, `f${i}.txt`), `file ${i}\n`);
    writeFileSync(path.join(ws, 'hello.c'), '#include <stdio.h>\nint main(void){puts("hi");return 0;}\n');
    spawnSync('sh', ['-c', 'git init -q && git add -A && git -c user.email=b@b -c user.name=b commit -qm init'], { cwd: ws });
    // A real project: a clone of this repository (its own history, sources, docs and tests).
    const real = path.join(work, 'cordon-clone');
    const cloned = spawnSync('git', ['clone', '-q', '--no-hardlinks', root, real]).status === 0;
    // A fresh index shares its second with the files it lists, so git re-reads them all ("racily
    // clean") until some status rewrites it a second later; inside, .git is protected (read-only) and
    // could not. Settle both indexes first so every run compares the same work.
    spawnSync('sleep', ['1.1']);
    for (const dir of cloned ? [ws, real] : [ws]) spawnSync('git', ['status', '--short'], { cwd: dir });
    const n = quick ? 10 : 48;
    const rows = [];
    const cases = [
      ['git status (300-file repo)', ['git', 'status', '--short'], ws],
      ...(cloned ? [['git status (a clone of cordon)', ['git', 'status', '--short'], real], ['git log -p -50 (a clone of cordon)', ['git', 'log', '-p', '-50'], real]] : []),
      ['cc hello.c', ['cc', '-O0', '-o', 'hello', 'hello.c'], ws],
      // A real project's compile: one of cordon's own launcher sources (~0.4 s), so fewer runs.
      ...(cloned ? [['g++ -O2 -c native/launcher/init.cc (a clone of cordon)', ['g++', '-std=c++17', '-O2', '-fno-exceptions', '-c', '-o', '/dev/null', 'native/launcher/init.cc'], real, { n: quick ? 4 : 16 }]] : []),
      ['node -e 0', [process.execPath, '-e', '0'], ws],
      ['python3 -c pass', ['python3', '-c', 'pass'], ws],
    ];
    for (const [name, argv, cwd, only = {}] of cases) {
      if (!which(argv[0]) && !path.isAbsolute(argv[0])) continue;
      // The plain run gets the same scrubbed environment the sandbox gives the command.
      const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.homedir(), LANG: 'C.UTF-8' };
      const sb = await Sandbox.create({ workspace: cwd, prespawn: true });
      const session = await sb.session();
      const ok = (r) => {
        if (r.exitCode !== 0) throw new Error(`${name}: ${r.stderr}`);
      };
      // The three are measured in interleaved rounds with the same 10 ms gaps, so drift in the
      // machine's load and idle-core wake-ups fall on all of them alike.
      const runs = await takeTurns([
        { fn: () => spawnWait(argv[0], argv.slice(1), { cwd, env }), gapMs: 10 },
        { fn: () => sb.exec(argv, { cwd }).then(ok), gapMs: 10 },
        { fn: () => session.exec(argv, { cwd }).then(ok), gapMs: 10 },
      ], { n: only.n ?? n, rounds: quick ? 2 : 8, warmup: only.n ? 1 : 3, roundWarmup: 1 });
      await session.close();
      await sb.close();
      const [plain, inside, inSession] = runs.map(stats);
      rows.push({ name, plain, inside, session: inSession, ratio: inside.median / plain.median, sessionRatio: inSession.median / plain.median });
    }
    results.sections.workload = rows;
    md.push('## 3. Real workloads, plain vs inside (10 ms between commands)\n',
      `The plain run gets the same minimal environment as the sandboxed command (PATH, HOME, LANG). Plain, pre-built and session runs alternate in ${quick ? 2 : 8} rounds, each run after a 10 ms gap.\n`,
      '| workload | plain median ms | cordon exec (pre-built) ms | ratio | cordon session ms | ratio | runs of each |', '|---|---:|---:|---:|---:|---:|---:|',
      ...rows.map((r) => `| ${r.name} | ${ms(r.plain.median)} | ${ms(r.inside.median)} | ${r.ratio.toFixed(3)} | ${ms(r.session.median)} | ${r.sessionRatio.toFixed(3)} | ${r.plain.n} |`), '');
  }

  if (want('scale')) {
    const { runScaleBench } = await import('./scale.mjs');
    const r = await runScaleBench({ Sandbox, work, quick });
    results.sections.scale = r.results;
    md.push('## 4. Profile scale: compile once per Sandbox, launch per command (10 / 100 / 1,000 rules)\n', r.markdown, '');
  }

  for (const [name, file, fn, title] of [['net', 'net.mjs', 'runNetBench', '## 5. Network: through an allowed endpoint vs direct loopback'], ['load', 'load.mjs', 'runLoadBench', '## 6. Load: sequential and concurrent execs, leaks']]) {
    if (!want(name)) continue;
    if (!existsSync(path.join(root, 'bench', file))) {
      md.push(`${title}\n`, `(bench/${file} not present in this build)`, '');
      continue;
    }
    const mod = await import(`./${file}`);
    const r = await mod[fn]({ quick });
    results.sections[name] = r.results ?? r;
    md.push(`${title}\n`, r.markdown, '');
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

// Targets of issue 4 (and 3), judged from this run's numbers.
if (!only) {
  const sec = results.sections;
  const rows = [];
  const launch = Object.fromEntries((sec.launch ?? []).map((r) => [r.name, r]));
  // The issue set its latency targets where plain spawn took ~1.3 ms and bubblewrap ~5.3 ms. This
  // run's two references give the machine's scale; the smaller ratio is used (the stricter target).
  const plainRef = launch['node child_process.spawn `true` (no sandbox)'];
  const bwrapRef = Object.values(launch).find((r) => r.name.startsWith('bubblewrap ('));
  const scale = plainRef && bwrapRef ? Math.min(plainRef.median / 1.3, bwrapRef.median / 5.3) : undefined;
  const verdict = (met) => (met ? 'met' : '**missed**');
  const row = (what, target, measured, met, scaled = '–') => rows.push(`| ${what} | ${target} | ${measured} | ${verdict(met)} | ${scaled} |`);
  /** A latency target: judged as stated, and on this machine's scale (ratio targets are not scaled). */
  const latencyRow = (what, limitMs, measured, valueMs) =>
    row(what, `≤ ${limitMs} ms`, measured, valueMs <= limitMs, scale === undefined ? '–' : `≤ ${ms(limitMs * scale)} ms: ${verdict(valueMs <= limitMs * scale)}`);
  const inside = Object.fromEntries((sec.syscallsInside ?? []).map((r) => [r.op, r]));
  if (inside.getpid) row('cached syscalls (getpid, 1-byte read) vs the 1-insn floor', '≤ 1.02×', `${inside.getpid.vsFloor.toFixed(3)}× / ${inside.read1.vsFloor.toFixed(3)}×`, Math.max(inside.getpid.vsFloor, inside.read1.vsFloor) <= 1.02);
  if (inside.openat_close) row('openat+close / stat vs plain, every layer on', '≤ 1.05×', `${inside.openat_close.vsPlain.toFixed(3)}× / ${inside.stat.vsPlain.toFixed(3)}×`, Math.max(inside.openat_close.vsPlain, inside.stat.vsPlain) <= 1.05);
  const cold = launch['cordon exec, cold (namespaces built per command)'];
  const prebuilt = launch['cordon exec, pre-built sandbox, 10 ms between commands'];
  const warm = launch['cordon warm session (sandbox built once), 10 ms between commands'];
  if (cold) latencyRow('`true` through exec, cold', 3, `${ms(cold.median)} ms (pre-built, the default: ${ms(prebuilt.median)} ms)`, cold.median);
  if (warm) latencyRow('`true` in a warm session', 1.5, `${ms(warm.median)} ms`, warm.median);
  for (const w of sec.workload ?? []) {
    const within = (x) => verdict(x <= 1.05);
    rows.push(`| workload: ${w.name} | ≤ 1.05× plain | session ${w.sessionRatio.toFixed(3)}× · pre-built exec ${w.ratio.toFixed(3)}× | ${within(w.sessionRatio)} in a session, ${within(w.ratio)} pre-built | – |`);
  }
  const scaleRow = (scenario, rules) => (sec.scale ?? []).find((r) => r.scenario === scenario && r.rules === rules);
  const [real, real10, worst, worst10] = [scaleRow('realistic', 1000), scaleRow('realistic', 10), scaleRow('worst case', 1000), scaleRow('worst case', 10)];
  const scaleTotal = real ? real.compile.median + real.cold.median : 0;
  if (real && real10) {
    const signed = (x) => `${x < 0 ? '−' : '+'}${ms(Math.abs(x))}`;
    latencyRow('profile with 1,000 rules (realistic mix, §4): compile (once per Sandbox) + cold launch (per command)', 5, `${ms(real.compile.median)} + ${ms(real.cold.median)} = ${ms(scaleTotal)} ms (with the default pre-built launch: ${real.prebuilt ? ms(real.compile.median + real.prebuilt.median) : '–'} ms); the rules' share over a 10-rule profile: ${signed(real.compile.median - real10.compile.median)} ms compile, ${signed(real.cold.median - real10.cold.median)} ms launch (within the run's noise when negative)`, scaleTotal);
  }
  const netRes = sec.net;
  if (netRes?.addedConnectMs !== undefined) {
    row('network: connection setup added (median)', '≤ +0.5 ms', `+${netRes.addedConnectMs.toFixed(3)} ms`, netRes.addedConnectMs <= 0.5);
    row('network: throughput vs direct loopback', '≥ 80 %', `${Math.round(100 * netRes.throughputRatio)} %`, netRes.throughputRatio >= 0.8);
  }
  const scaleNote = scale === undefined
    ? 'The last column needs both references (plain spawn and bubblewrap) in this run.'
    : `The issue's latency targets were set on a machine where plain spawn took ~1.3 ms and bubblewrap ~5.3 ms; in this run they took ${ms(plainRef.median)} and ${ms(bwrapRef.median)} ms. The last column multiplies each latency target by the smaller of the two ratios (${scale.toFixed(2)}×): what the target means on this machine. The absolute verdict is the issue's; both are printed.`;
  md.push('## Targets\n', '| what | target | this run | | on this machine\'s scale |', '|---|---|---|---|---|', ...rows, '', scaleNote, '',
    'Notes on what the numbers are made of (the history is in git):',
    '- *openat/stat*: two syscalls under any seccomp filter cost ~40 ns each (the floor column); inside, the path crosses the /tmp and workspace mounts of the sandbox (~10 ns; the ratio to the floor is ~1.008 here) and the scoping by Landlock adds ~0.3 % to an open and nothing to a stat (measured with bench/landlock-exec.c around the floor). That ~0.8 % on top of the ~4.2 % of the kernel is what is left of the 5 % budget, so runs land at 1.044-1.050×. Landlock handles no filesystem right on ABI 6+ (any would add ~150 ns to every open; the mount tree enforces the file policy) and the root-only setuid guard is on the chmod family only, so open/openat stay cached.',
    '- *cold launch* (no sandbox built ahead; `node bench/trace.mjs cold` gives the steps): Node\'s side and the launch server\'s fork (~0.35 ms until the launcher runs; spawned by Node it is ~1 ms more, see the server-off row), unshare (~0.13 ms), ~110 mount operations (~0.7 ms; meanwhile a helper thread of init, started on the other core, makes the network namespace (~0.6 ms of kernel work here) and brings up loopback, and afterwards detaches the host\'s mount tree while the main thread goes on), capabilities, Landlock, the connect broker\'s first thread and seccomp (~0.2 ms), then the command (clone + exec of `true`, ~0.6 ms: ~0.5 ms of it is what an exec costs on this VM outside any sandbox), teardown and report (~0.25 ms). By default a Sandbox builds the next command\'s sandbox while the agent is idle (the "pre-built" rows: fresh namespaces per command, exec only sends argv); a session shares one sandbox. On this VM idle cores wake slowly: the plain-spawn rows set the scale of each run.',
    '- *pre-built and session*: before each command Node checks the deny globs and which protected and denied paths exist, from directory listings that inotify vouches for (one drain and a stat per top-level directory when nothing changed), then sends argv; the rest is the command\'s own fork/exec in the sandbox, its reaping and the report. Rows with 10 ms gaps pay for idle cores waking up, as the plain-spawn row with gaps shows.',
    '- *workloads*: in a session a command costs about what a plain spawn costs, so short commands converge on plain there; a pre-built exec adds the per-command checks and a wake-up of the sandbox\'s init.',
    ...(real && real10 && worst && worst10 && scaleTotal > 5
      ? [`- *1,000 rules*: the sum is a cold launch (${ms(real10.cold.median)} ms with 10 rules) plus what the rules add: compiling, once per Sandbox (${ms(real.compile.median)} ms in all), and per command the deny-glob refresh (an inotify drain plus one stat per globbed root when nothing changed) and one mount per *existing* denied file. That mount is the kernel's open_tree + move_mount, ~10 µs: ${worst.masks} masks make the worst case's cold launch ${ms(worst.cold.median)} ms (${ms(worst10.cold.median)} ms with ${worst10.masks}); a pre-built sandbox mounts them while the agent is idle (${worst.prebuilt ? ms(worst.prebuilt.median) : '–'} ms per command).`]
      : []),
    '- *network* (section 5): pid 1 performs every connect() (the connect broker); an allowed TCP connection is made on the host and its socket handed over, so bytes flow as on a direct connection (no relay). The setup cost is the round trip to pid 1 and the supervisor\'s decision. Connections the broker cannot hand over are relayed (about half of direct throughput on 2 cores).', '');
}

const m = results.machine;
const header = [
  '# cordon benchmarks',
  '',
  `Generated by \`npm run bench\` on ${results.date}${quick ? ' (--quick)' : ''}. Every comparison in a table was measured in the same run.`,
  '',
  `Machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB, ${m.os ?? 'Linux'}, kernel ${m.kernel}, Node ${m.node}, uid ${m.uid}; load average at start ${m.loadavg}.`,
  '',
];
mkdirSync(path.join(root, 'bench', 'results'), { recursive: true });
writeFileSync(path.join(root, 'bench', 'results', 'latest.json'), JSON.stringify(results, null, 2));
const text = [...header, ...md].join('\n') + '\n';
if (!only) writeFileSync(path.join(root, 'docs', 'benchmarks.md'), text);
process.stdout.write(text);
