// cordon – whether process.env changed since it was last read, from the addon's environGeneration() (native/addon/environ.cc) instead of enumerating it.

import { optionalAddon } from '../net/addon.js';

let generation: (() => number) | null | undefined;

/**
 * A number that changes whenever the process environment changes (any setenv, unsetenv or putenv,
 * process.env assignments and deletions included); undefined without the addon (Windows, not built)
 * or with CORDON_ENV_CACHE=0, where the caller must read process.env afresh each time.
 */
export function environGeneration(): number | undefined {
  if (generation === undefined) {
    const addon = process.env.CORDON_ENV_CACHE === '0' ? undefined : optionalAddon();
    generation = typeof addon?.environGeneration === 'function' ? addon.environGeneration.bind(addon) : null;
  }
  return generation?.();
}
