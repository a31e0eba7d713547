// cordon bench – where a launch's time goes: builds the launcher with -DCORDON_TRACE, runs `true` N
// times and prints the median time of each step (the launcher's, init's and its helper thread's, and Node's begin/end).
//
//   node bench/trace.mjs [cold|prebuilt|session] [N] [--net] [--rules COUNT]     (default: cold 60)
//
// --net: allowlist networking (one allowed host), so each launch also builds its network namespace's
// listeners and capture rules and starts a network supervisor. --rules COUNT: the realistic profile of
// that many rules from the profile-scale benchmark (bench/scale.mjs; allowlist networking, masks).
// TRACE_GAP=ms: idle time between cold launches too (pre-built and session runs always have 15 ms).
//
// Records go to a file (native/launcher/report.h), not to the status socket, so tracing does not
// wake Node at every step. Each step gets the median (and mean) time since the previous step and the
// median time since =begin; steps are sorted by the last, so a helper thread's steps appear where
// they fall beside the main thread's. The first 10 runs are warm-up and not counted. Steps named "=…" are
// Node's (the Sandbox.exec call, the launch request, stdout's EOF, the EXIT record, the result).
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const rulesAt = process.argv.indexOf('--rules');
const rules = rulesAt > 0 ? Number(process.argv[rulesAt + 1]) : undefined;
const args = process.argv.slice(2).filter((a, i) => a !== '--net' && a !== '--rules' && i + 2 !== rulesAt + 1);
const withNet = process.argv.includes('--net');
const mode = args[0] ?? 'cold';
const runs = Number(args[1] ?? 60);
if (!['cold', 'prebuilt', 'session'].includes(mode) || !(runs > 10) || (rules !== undefined && !(rules > 0))) {
  console.error('usage: node bench/trace.mjs [cold|prebuilt|session] [N > 10] [--net] [--rules COUNT]');
  process.exit(2);
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'cordon-trace-'));
const log = path.join(dir, 'trace.log');
const launcher = path.join(dir, 'cordon-launcher');
const sources = readdirSync(path.join(root, 'native', 'launcher')).filter((f) => f.endsWith('.cc')).map((f) => path.join(root, 'native', 'launcher', f));
const cc = spawnSync('g++', ['-std=c++17', '-O2', '-fno-exceptions', '-fno-rtti', '-DCORDON_TRACE', `-DCORDON_TRACE_FILE="${log}"`, '-static-pie', '-fPIE', '-o', launcher, ...sources], { encoding: 'utf8' });
if (cc.status !== 0) {
  console.error(`cannot build the trace launcher: ${cc.stderr}`);
  process.exit(1);
}
process.env.CORDON_LAUNCHER = launcher;
const { Sandbox } = await import(path.join(root, 'dist', 'index.js'));

const mark = (what) => appendFileSync(log, `TRACE ${process.hrtime.bigint() / 1000n} 0 ${what}\n`);
// Node's side of a launch through the launch server: launch() returned (the request is sent), stdout at
// EOF, the EXIT record read (the steps between "all reaped" and "=end").
const { LaunchServer } = await import(path.join(root, 'dist', 'linux', 'launch-server.js'));
const serverLaunch = LaunchServer.prototype.launch;
LaunchServer.prototype.launch = function (...args) {
  mark('=launch() called');
  const l = serverLaunch.apply(this, args);
  mark('=launch() returned');
  l.stdout.once('close', () => mark('=stdout at EOF'));
  l.stdio[3].on('data', (chunk) => String(chunk).includes('EXIT') && mark('=EXIT read'));
  return l;
};
// The command (or the plan) written into the status socket.
const { StatusWriter } = await import(path.join(root, 'dist', 'linux', 'status-writer.js'));
const statusWrite = StatusWriter.prototype.write;
StatusWriter.prototype.write = function (...args) {
  mark('=write to the status socket');
  return statusWrite.apply(this, args);
};
const network = withNet ? { network: { mode: 'allowlist', allow: ['registry.npmjs.org:443'] } } : {};
let where = { workspace: mkdtempSync(path.join(dir, 'ws-')) };
if (rules !== undefined) {
  // The profile-scale benchmark's realistic profile of that many rules, in its synthetic world (bench/scale.mjs).
  const { makeWorld, realisticProfile } = await import(path.join(root, 'bench', 'scale.mjs'));
  const { home, ws } = makeWorld(path.join(dir, 'world'));
  const profile = path.join(dir, 'profile.json');
  writeFileSync(profile, JSON.stringify(realisticProfile(rules, ws)));
  where = { workspace: ws, home, profile, callerEnv: { PATH: process.env.PATH } };
}
const sb = await Sandbox.create({ ...where, prespawn: mode !== 'cold', ...network });
const session = mode === 'session' ? await sb.session() : undefined;
for (let i = 0; i < runs; i++) {
  mark('=begin');
  const r = await (session ?? sb).exec(['/bin/true']);
  mark('=end');
  if (r.exitCode !== 0) throw new Error(`true exited ${r.exitCode}: ${r.stderr}`);
  if (mode !== 'cold' || process.env.TRACE_GAP) await new Promise((resolve) => setTimeout(resolve, Number(process.env.TRACE_GAP ?? 15))); // the next one is built meanwhile
}
await session?.close();
await sb.close();

// Each run: the records between its =begin and =end, in time order.
const records = readFileSync(log, 'utf8').trim().split('\n').map((l) => {
  const [, us, pid, ...step] = l.split(' ');
  return { us: Number(us), pid, step: step.join(' ') };
}).sort((a, b) => a.us - b.us);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const windows = [];
let current;
for (const r of records) {
  if (r.step === '=begin') windows.push((current = [r]));
  else if (current) {
    current.push(r);
    if (r.step === '=end') current = undefined;
  }
}
const order = [];
const gaps = new Map();
const offsets = new Map(); // µs since =begin: shows where a concurrent thread's steps fall
for (const w of windows.slice(10)) {
  for (let k = 1; k < w.length; k++) {
    const name = w[k].step;
    if (!gaps.has(name)) (order.push(name), gaps.set(name, []), offsets.set(name, []));
    gaps.get(name).push(w[k].us - w[k - 1].us);
    offsets.get(name).push(w[k].us - w[0].us);
  }
}
order.sort((a, b) => median(offsets.get(a)) - median(offsets.get(b)));
const mean = (xs) => Math.round(xs.reduce((a, b) => a + b, 0) / xs.length);
console.log(`${mode}${withNet ? ' (allowlist networking)' : ''}: ${windows.length - 10} runs of /bin/true (µs since the previous step, median and mean, then the median time since =begin; steps sorted by that; "=end" is Node's result)`);
for (const name of order) console.log(`${String(median(gaps.get(name))).padStart(7)} ${String(mean(gaps.get(name))).padStart(6)} ${String(median(offsets.get(name))).padStart(6)}  ${name}${gaps.get(name).length < windows.length - 10 ? `  (in ${gaps.get(name).length} runs)` : ''}`);
const totals = windows.slice(10).map((w) => w.at(-1).us - w[0].us);
console.log(`${String(median(totals)).padStart(7)} ${String(mean(totals)).padStart(6)}         total`);
rmSync(dir, { recursive: true, force: true });
