// cordon bench – profile scale (section 4 of run.mjs): compile once per Sandbox, launch per command, for
// 10 / 100 / 1,000 rules of a realistic mix and of the worst case (every rule an existing masked file).
//
//   import { runScaleBench } from './scale.mjs';
//   const { results, markdown } = await runScaleBench({ Sandbox, work, quick });
import { lstatSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { stats, takeTurns } from './timing.mjs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const COUNTS = [10, 100, 1000];
/** Between pre-built commands: long enough for a sandbox with 1,000 masks to be built ahead (~15 ms). */
const GAP_MS = 50;

function touch(file, text = 'x') {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

/** A home and a repository shaped like a developer's (~120 and ~150 directories), with a few secrets in them. */
export function makeWorld(dir) {
  const home = path.join(dir, 'home');
  const ws = path.join(dir, 'ws');
  for (const f of ['.ssh/id_ed25519', '.ssh/known_hosts', '.aws/credentials', '.config/gh/hosts.yml', '.config/pip/pip.conf', '.bash_history', '.npmrc']) touch(path.join(home, f));
  for (let i = 0; i < 20; i++) touch(path.join(home, '.config', `app${i}`, 'settings.json'));
  for (let i = 0; i < 40; i++) touch(path.join(home, '.cache', 'npm', '_cacache', `index-${i}`, 'entry'));
  for (let i = 0; i < 12; i++) touch(path.join(home, 'projects', `p${i}`, 'src', 'main.c'));
  for (const i of [2, 7]) touch(path.join(home, 'projects', `p${i}`, '.env'), 'KEY=1');
  mkdirSync(path.join(home, '.cache', 'pip'), { recursive: true });
  for (let i = 0; i < 20; i++) touch(path.join(ws, '.git', 'objects', (i * 7).toString(16).padStart(2, '0'), 'obj'));
  touch(path.join(ws, '.git', 'hooks', 'pre-commit.sample'));
  touch(path.join(ws, '.git', 'config'));
  for (let i = 0; i < 30; i++) touch(path.join(ws, 'node_modules', `pkg${i}`, 'lib', 'index.js'));
  for (let i = 0; i < 20; i++) for (const sub of ['a', 'b']) touch(path.join(ws, 'src', `mod${i}`, sub, 'file.ts'));
  for (const f of ['.env', 'certs/server.pem', 'deploy/id_rsa', '.github/workflows/ci.yml']) touch(path.join(ws, f));
  return { home, ws };
}

const GLOBS = ['*.pem', '*.key', '*.p12', '*.pfx', 'id_rsa*', 'id_ed25519*', '*.kdbx', 'credentials*.json', 'service-account-*.json', '.npmrc', '.pypirc', '*.tfstate', '*.tfvars', '.htpasswd', 'secrets.y*ml'];

/** The share of each kind of rule in a profile a security team writes (most match nothing on a given machine). */
const MIX = [
  ['denyHome', 0.12, (i) => [`~/.config/vendor${i}/credentials.json`, `~/.vendor${i}rc`, `~/.local/share/vendor${i}/token`][i % 3]],
  ['denyWorkspace', 0.1, (i) => `\${workspace}/config/secrets/key${i}.json`],
  ['denySystem', 0.08, (i) => [`/etc/vendor${i}/secret.conf`, `/opt/vendor${i}/license.key`, `/var/lib/vendor${i}/token`][i % 3]],
  ['denyGlob', 0.08, (i) => (i < GLOBS.length ? `\${workspace}/**/${GLOBS[i]}` : i % 2 ? `\${workspace}/**/*.secret${i}` : `~/projects/*/.creds${i}`)],
  ['read', 0.07, (i) => [`/opt/tool${i}`, `/usr/local/lib/tool${i}`, `~/.cache/tool${i}`][i % 3]],
  ['write', 0.05, (i) => (i === 0 ? '~/.cache/pip' : i === 1 ? '~/.cache/npm' : `~/.cache/tool${i}`)],
  ['protected', 0.03, (i) => (i % 2 ? `\${workspace}/.github/workflows/w${i}.yml` : `\${workspace}/scripts/deploy${i}.sh`)],
  ['envDeny', 0.02, (i) => `VENDOR${i}_TOKEN`],
  ['netDeny', 0.12, (i) => (i === 0 ? '169.254.169.254' : i % 10 === 0 ? `192.168.${i % 250}.0/24` : `tracker${i}.example.org`)],
  ['netAllow', 0.33, (i) => (i % 50 === 49 ? `10.${i % 250}.0.0/16:5432` : i % 3 ? `registry${i}.example.com:443` : `*.cdn${i}.example.net:443`)],
];

/** A realistic profile of `count` rules (entries of every list together). */
export function realisticProfile(count, ws) {
  const lists = {};
  let left = count;
  MIX.forEach(([kind, share, make], k) => {
    const n = k === MIX.length - 1 ? left : Math.max(1, Math.round(count * share));
    left -= n;
    lists[kind] = Array.from({ length: n }, (_, i) => make(i));
  });
  // A few of the listed workspace secrets exist (each one a mask inside the writable tree).
  lists.denyWorkspace.forEach((p, i) => i % 10 === 0 && touch(p.replace('${workspace}', ws)));
  return {
    version: 1,
    extends: 'workspace',
    filesystem: { read: lists.read, write: lists.write, protected: lists.protected, deny: [...lists.denyHome, ...lists.denyWorkspace, ...lists.denySystem, ...lists.denyGlob] },
    network: { mode: 'allowlist', allow: lists.netAllow, deny: lists.netDeny },
    env: { deny: lists.envDeny },
  };
}

/** The worst case for launch: `count` deny rules, each an existing file, so each one is a mask. */
export function worstProfile(count, ws) {
  for (let i = 0; i < count; i++) touch(path.join(ws, 'd', `secret${i}`));
  return { version: 1, extends: 'workspace', filesystem: { deny: Array.from({ length: count }, (_, i) => `\${workspace}/d/secret${i}`) }, network: { mode: 'none' } };
}

/**
 * One scenario's rows (10 / 100 / 1,000 rules, each profile in its own world): compile, cold
 * launch and pre-built launch. Each measurement warms every row first, then the rows take turns
 * in rounds, so the host's slow and fast phases fall on them alike and "what the rules add" (the
 * difference between rows) is not a difference between two stretches of the host's load.
 */
async function measureScenario({ Sandbox, mountOps }, work, scenario, make, { n, rounds, coldN, coldRounds }) {
  const rows = COUNTS.map((count) => {
    const dir = path.join(work, `scale-${scenario.replace(' ', '-')}-${count}`);
    const { home, ws } = makeWorld(dir);
    const profile = path.join(dir, 'profile.json');
    writeFileSync(profile, JSON.stringify(make(count, ws), null, 2));
    return { count, opts: { workspace: ws, home, profile, callerEnv: { PATH: process.env.PATH } } };
  });
  await new Promise((r) => setTimeout(r, 150)); // let the trees age past the glob cache's 100 ms "recent" window
  // Cold rows as section 2 measures its cold row: more, shorter-lived samples (each turn's first two
  // launches unmeasured, so the previous row's teardown does not land on this one), spread over 6
  // rounds, since the host's load swings ±20-45 % within seconds here.
  const inTurns = async (what, fnOf, { warmup, gapMs = 0, turns = { n, rounds } }) => {
    const times = await takeTurns(rows.map((r) => ({ fn: fnOf(r), gapMs })), { ...turns, warmup, settleMs: 20 });
    rows.forEach((r, i) => (r[what] = times[i]));
  };
  await inTurns('compile', (r) => async () => (await Sandbox.create({ ...r.opts, prespawn: false })).close(), { warmup: 3 });
  for (const [what, prespawn, gapMs] of [['cold', false, 0], ['prebuilt', true, GAP_MS]]) {
    for (const r of rows) r.sb = await Sandbox.create({ ...r.opts, prespawn });
    const exec = (r) => () => r.sb.exec(['/bin/true']).then((x) => {
      if (x.exitCode !== 0) throw new Error(`${scenario} ${r.count}: ${x.stderr}`);
    });
    await inTurns(what, exec, { warmup: 10, gapMs, turns: prespawn ? { n, rounds } : { n: coldN, rounds: coldRounds, roundWarmup: 2 } });
    if (!prespawn) {
      for (const r of rows) {
        const masks = mountOps(r.sb.policy).filter((m) => m.kind === 'mask');
        r.maskOps = masks.length;
        r.masks = masks.filter((m) => lstatSync(m.dst, { throwIfNoEntry: false })).length;
      }
    }
    for (const r of rows) await r.sb.close();
  }
  return rows.map((r) => ({ scenario, rules: r.count, maskOps: r.maskOps, masks: r.masks, compile: stats(r.compile), cold: stats(r.cold), prebuilt: stats(r.prebuilt) }));
}

export async function runScaleBench({ Sandbox, work, quick = false }) {
  const { mountOps } = await import(path.join(root, 'dist', 'linux', 'plan.js'));
  const n = quick ? 8 : 40;
  const rounds = quick ? 2 : 4;
  const coldN = quick ? 8 : 90;
  const coldRounds = quick ? 2 : 6;
  const rows = [];
  for (const [scenario, make] of [['realistic', realisticProfile], ['worst case', worstProfile]]) {
    rows.push(...(await measureScenario({ Sandbox, mountOps }, work, scenario, make, { n, rounds, coldN, coldRounds })));
  }
  const ms = (s) => (s ? s.median.toFixed(2) : '–');
  const markdown = [
    `Compile = \`Sandbox.create()\` + \`close()\`: load, validate, compile, plan (once per Sandbox). Cold launch = \`exec(['/bin/true'])\` with the sandbox built per command; pre-built = the default (\`prespawn\`), the next sandbox built ahead, ${GAP_MS} ms between commands. Each row is warmed first (3 compiles, 10 launches), then the three rows of a profile take turns: compiles and pre-built launches in ${rounds} rounds (medians of ${n}), cold launches in ${coldRounds} rounds (medians of ${coldN}; each turn's first 2 launches unmeasured, as in section 2). Each row has its own synthetic home (~120 directories) and repository (~150 directories, .git and node_modules included).`,
    '',
    '- *realistic*: 12 % deny paths in the home, 10 % in the workspace (one in ten exists), 8 % system paths, 8 % deny globs (`**/*.pem`, `**/id_rsa*`, `~/projects/*/.creds*` …), 7 % read, 5 % write, 3 % protected, 2 % env.deny, 33 % network allow (hosts, `*.domain`, a few CIDRs), 12 % network deny (so allowlist networking: each launch also starts its network supervisor).',
    '- *worst case*: every rule denies an existing file in the workspace, so every rule is a mask mounted at each launch.',
    '',
    '| profile | rules | masks mounted (planned) | compile median ms | cold launch median ms | pre-built launch median ms |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.scenario} | ${r.rules} | ${r.masks} (${r.maskOps}) | ${ms(r.compile)} | ${ms(r.cold)} | ${ms(r.prebuilt)} |`),
    '',
  ].join('\n');
  return { results: rows, markdown };
}
