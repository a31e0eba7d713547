// cordon – builds the native launcher with node-gyp on Linux; does nothing elsewhere (Windows uses koffi).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { existsSync } from 'node:fs';

if (process.platform !== 'linux') {
  console.log(`cordon: no native build needed on ${process.platform}`);
  process.exit(0);
}
const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const require = createRequire(import.meta.url);
let gyp;
try {
  gyp = require.resolve('node-gyp/bin/node-gyp.js');
} catch {
  console.error('cordon: node-gyp is not installed; run `npm install` in the cordon checkout');
  process.exit(1);
}
// Build against the headers of the running Node when they are installed beside it (distro Node,
// or npm's `nodedir`), so a machine without internet access can build too.
const args = [gyp, 'rebuild'];
const prefix = process.env.npm_config_nodedir || path.resolve(path.dirname(process.execPath), '..');
if (existsSync(path.join(prefix, 'include', 'node', 'common.gypi'))) args.push(`--nodedir=${prefix}`);
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
