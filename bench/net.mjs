// cordon – network benchmark: connection setup and throughput through an allowed endpoint (the
// transparent capture: sandbox netns → nftables redirect → supervisor → host) against a direct
// loopback connection from the same client program outside the sandbox, in the same run.
//
//   node bench/net.mjs            prints the markdown table
//   import { runNetBench } from './net.mjs'   → { results, markdown }
//
// The server runs in its own process (so it does not share the supervisor's event loop); the client
// is the same Python program in both cases: N sequential connects (connect + first byte + close),
// then one bulk download.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const CONNECTS = Number(process.env.CORDON_BENCH_CONNECTS ?? 500);
const BULK_MB = Number(process.env.CORDON_BENCH_BULK_MB ?? 512);

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
  const server = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
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
    const direct = spawnSync(py, ['-c', CLIENT('127.0.0.1', ports.greet, ports.bulk)], { encoding: 'utf8' });
    if (direct.status !== 0) throw new Error(`direct client failed: ${direct.stderr}`);
    const sb = await Sandbox.create({
      workspace: root,
      network: { mode: 'allowlist', allow: [`bench.test:${ports.greet},${ports.bulk}`], allowPrivate: true, hosts: { 'bench.test': ['127.0.0.1'] } },
    });
    const boxed = await sb.exec([py, '-c', CLIENT('bench.test', ports.greet, ports.bulk)], { timeoutMs: 300_000 });
    if (boxed.exitCode !== 0) throw new Error(`sandboxed client failed: ${boxed.stderr.toString()}`);
    const d = JSON.parse(direct.stdout);
    const b = JSON.parse(boxed.stdout.toString());
    const results = {
      connects: CONNECTS,
      bulkBytes: d.bytes,
      direct: d,
      sandboxed: b,
      addedConnectMs: b.connectMedianMs - d.connectMedianMs,
      throughputRatio: b.mbPerSec / d.mbPerSec,
    };
    const f = (x, n = 3) => x.toFixed(n);
    const markdown = [
      `| network (${CONNECTS} connects, ${BULK_MB} MiB download) | direct loopback | sandbox, allowed endpoint | added / ratio | target |`,
      '|---|---|---|---|---|',
      `| connection setup, median (connect + first byte) | ${f(d.connectMedianMs)} ms | ${f(b.connectMedianMs)} ms | +${f(results.addedConnectMs)} ms | ≤ +0.5 ms |`,
      `| connection setup, p90 | ${f(d.connectP90Ms)} ms | ${f(b.connectP90Ms)} ms | +${f(b.connectP90Ms - d.connectP90Ms)} ms | |`,
      `| throughput | ${f(d.mbPerSec, 0)} MB/s | ${f(b.mbPerSec, 0)} MB/s | ${f(results.throughputRatio * 100, 0)} % | ≥ 80 % |`,
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
