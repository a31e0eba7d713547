// cordon – `cordon doctor`: prints which layers this machine can enforce, and why not where not.
import { selectBackend } from '../platform/select.js';

export async function doctor(json: boolean): Promise<number> {
  const backend = await selectBackend();
  const caps = await backend.probe();
  const missing = caps.layers.filter((l) => l.required && !l.available);
  if (json) {
    process.stdout.write(JSON.stringify({ ...caps, ok: missing.length === 0 }, null, 2) + '\n');
  } else {
    process.stdout.write(`cordon doctor (${caps.platform}, backend ${backend.name})\n`);
    for (const l of caps.layers) {
      const mark = l.available ? 'ok  ' : l.required ? 'MISSING' : 'no  ';
      process.stdout.write(`  ${mark.padEnd(8)} ${l.name}: ${l.detail}\n`);
    }
    process.stdout.write(missing.length === 0 ? 'every required layer is available\n' : `cordon will refuse to run: ${missing.map((l) => l.name).join(', ')} missing\n`);
  }
  return missing.length === 0 ? 0 : 1;
}
