// cordon – where cordon's own files are: the package root, shipped profiles, the native launcher.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (the directory holding package.json), from dist/ or src/. */
export function packageRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
}

export function profilesDir(): string {
  return path.join(packageRoot(), 'profiles');
}

/** Path of the built launcher, or undefined if it was not built. */
export function launcherPath(): string | undefined {
  const p = process.env.CORDON_LAUNCHER ?? path.join(packageRoot(), 'build', 'Release', 'cordon-launcher');
  return existsSync(p) ? p : undefined;
}
