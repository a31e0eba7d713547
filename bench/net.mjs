// cordon – network benchmark: connection setup and throughput through an allowed endpoint (the
// connect broker: pid 1 → supervisor → a host socket handed over; and, for comparison, the relay
// fallback with CORDON_NET_BROKER=0) against a direct loopback connection from the same client
// program outside the sandbox, in interleaved rounds of the same run.
//
//   node bench/net.mjs            prints the markdown table
//   import { runNetBench } from './net.mjs'   → { results, markdown }
//
// The server runs in its own process (so it does not share the supervisor's event loop); the client
// is the same Python program in every case: N sequential connects (connect + first byte + close),
// then one bulk download.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { pinnedTo } from './timing.mjs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const CONNECTS = Number(process.env.CORDON_BENCH_CONNECTS ?? 500);
const BULK_MB = Number(process.env.CORDON_BENCH_BULK_MB ?? 512);
const ROUNDS = Number(process.env.CORDON_BENCH_NET_ROUNDS ?? 5);

const SERVER = `
const net = require('node:net');
const chunk = Buffer.alloc(1 << 20, 7);
const bulk = net.createServer({ noDelay: true }, (s) => {
  s.on('error', () => {});
  let left = ${BULK_MB};
  const pump = () => { while (left > 0) { left--; if (!s.write(chunk)) return s.once('drain', pump); } s.end(); };
  pump();
});
const greet = net.createServer({ noDelay: true }, (s) => { s.on('error', () => {}); s.end('x'); });
bulk.listen(0, '127.0.0.1', () => greet.listen(0, '127.0.0.1', () =>
  process.stdout.write(JSON.stringify({ bulk: bulk.address().port, greet: greet.address().port }) + '\\n')));
`;

const CLIENT = (host, greet, bulk) => `
import socket, time, json, statistics
addr = socket.gethostbyname(${JSON.stringify(host)})
times = []
for i in range(${CONNECTS}):
    t0 = time.perf_counter()
    s = socket.create_connection((addr, ${greet}))
    s.recv(1)
    s.close()
    times.append((time.perf_counter() - t0) * 1000)
times = times[${Math.min(20, Math.floor(CONNECTS / 10))}:]
s = socket.create_connection((addr, ${bulk}))
buf = bytearray(1 << 20); view = memoryview(buf)
n = 0; t0 = time.perf_counter()
while True:
    k = s.recv_into(view)
    if not k: break
    n += k
dt = time.perf_counter() - t0
print(json.dumps({'connectMedianMs': statistics.median(times), 'connectP90Ms': sorted(times)[int(len(times) * 0.9)], 'bytes': n, 'mbPerSec': n / dt / 1e6}))
`;

function python() {
  for (const p of ['python3', '/usr/bin/python3']) if (spawnSync(p, ['-c', '1']).status === 0) return p;
  throw new Error('python3 is needed for the network benchmark');
}

export async function runNetBench() {
  const { Sandbox } = await import(path.join(root, 'dist', 'index.js'));
  // On loopback, whether sender and receiver share a CPU swings throughput by up to 2× from one
  // transfer to the next: the server stays on CPU 0 and every client (direct and sandboxed) on CPU 1.
  const [serverPin, clientPin] = [pinnedTo(0), pinnedTo(1)];
  const serverArgv = [...serverPin, process.execPath, '-e', SERVER];
  const server = spawn(serverArgv[0], serverArgv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const ports = await new Promise((resolve, reject) => {
      let out = '';
      server.stdout.on('data', (c) => {
        out += c;
        if (out.includes('\n')) resolve(JSON.parse(out));
      });
      server.on('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
    });
    const py = python();
    const network = { mode: 'allowlist', allow: [`bench.test:${ports.greet},${ports.bulk}`], allowPrivate: true, hosts: { 'bench.test': ['127.0.0.1'] } };
    const sb = await Sandbox.create({ workspace: root, network });
    // The relay fallback, for comparison: the same rules with the broker off (read when the plan is made).
    process.env.CORDON_NET_BROKER = '0';
    const relaySb = await Sandbox.create({ workspace: root, network });
    delete process.env.CORDON_NET_BROKER;
    const runs = { direct: [], broker: [], relay: [] };
    // Interleaved rounds, medians: a single bulk transfer on a shared VM varies by ±20 %.
    for (let round = 0; round < ROUNDS; round++) {
      const client = (host) => [...clientPin, py, '-c', CLIENT(host, ports.greet, ports.bulk)];
      const [directArgv, sandboxArgv] = [client('127.0.0.1'), client('bench.test')];
      const direct = spawnSync(directArgv[0], directArgv.slice(1), { encoding: 'utf8' });
      if (direct.status !== 0) throw new Error(`direct client failed: ${direct.stderr}`);
      runs.direct.push(JSON.parse(direct.stdout));
      for (const [key, box] of [['broker', sb], ['relay', relaySb]]) {
        const r = await box.exec(sandboxArgv, { timeoutMs: 300_000 });
        if (r.exitCode !== 0) throw new Error(`sandboxed client (${key}) failed: ${r.stderr.toString()}`);
        runs[key].push(JSON.parse(r.stdout.toString()));
      }
    }
    await sb.close();
    await relaySb.close();
    const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    const summary = (rs) => ({ connectMedianMs: med(rs.map((r) => r.connectMedianMs)), connectP90Ms: med(rs.map((r) => r.connectP90Ms)), mbPerSec: med(rs.map((r) => r.mbPerSec)), bytes: rs[0].bytes });
    const d = summary(runs.direct);
    const b = summary(runs.broker);
    const rl = summary(runs.relay);
    const results = {
      connects: CONNECTS,
      rounds: ROUNDS,
      bulkBytes: d.bytes,
      direct: d,
      sandboxed: b,
      relay: rl,
      addedConnectMs: b.connectMedianMs - d.connectMedianMs,
      // Paired: each round's sandboxed transfer over the direct one made beside it, then the median.
      throughputRatio: med(runs.broker.map((r, i) => r.mbPerSec / runs.direct[i].mbPerSec)),
      relayThroughputRatio: med(runs.relay.map((r, i) => r.mbPerSec / runs.direct[i].mbPerSec)),
    };
    const f = (x, n = 3) => x.toFixed(n);
    const markdown = [
      `| network (${CONNECTS} connects, ${BULK_MB} MiB download; medians of ${ROUNDS} interleaved rounds${clientPin.length ? ', server on CPU 0 and client on CPU 1' : ''}; throughput ratios are medians of each round's pair) | direct loopback | sandbox, allowed endpoint (connect broker, the default) | added / ratio | relay fallback (CORDON_NET_BROKER=0) | target |`,
      '|---|---|---|---|---|---|',
      `| connection setup, median (connect + first byte) | ${f(d.connectMedianMs)} ms | ${f(b.connectMedianMs)} ms | +${f(results.addedConnectMs)} ms | ${f(rl.connectMedianMs)} ms | ≤ +0.5 ms |`,
      `| connection setup, p90 | ${f(d.connectP90Ms)} ms | ${f(b.connectP90Ms)} ms | +${f(b.connectP90Ms - d.connectP90Ms)} ms | ${f(rl.connectP90Ms)} ms | |`,
      `| throughput | ${f(d.mbPerSec, 0)} MB/s | ${f(b.mbPerSec, 0)} MB/s | ${f(results.throughputRatio * 100, 0)} % | ${f(rl.mbPerSec, 0)} MB/s (${f(results.relayThroughputRatio * 100, 0)} %) | ≥ 80 % |`,
    ].join('\n');
    return { results, markdown };
  } finally {
    server.kill();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { markdown, results } = await runNetBench();
  console.log(markdown);
  if (process.env.CORDON_BENCH_JSON) console.log(JSON.stringify(results, null, 2));
}
