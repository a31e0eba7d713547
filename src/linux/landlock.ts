// cordon – Landlock access masks per ABI and the rules that mirror the write side of the mount plan.
//
// What Landlock enforces is chosen by cost (issue 4; measured on the target, 6.18, ext4):
//   * scoping of abstract unix sockets and signals (ABI 6+): nothing else gives it in host network
//     mode or against processes outside the sandbox; costs nothing measurable. Always on.
//   * filesystem rights: a ruleset handling ANY of them — even one write-side right such as
//     WRITE_FILE, on a read-only open — adds ~150 ns to every open() of most files (~7 % of an
//     open+close); handling READ_FILE adds ~680 ns; TRUNCATE/IOCTL_DEV ~300 ns more. The mount tree
//     already enforces the whole file policy (reads: absent unless bound in; writes: read-only binds
//     everywhere but the writable trees, a read-only /proc, masks), so on ABI 6+ the ruleset handles
//     no filesystem right. On ABI 1-5, where there is nothing to scope, the layer mirrors the write
//     side of the plan instead (these rules), so it still enforces something real.

export const FS = {
  EXECUTE: 1n << 0n,
  WRITE_FILE: 1n << 1n,
  READ_FILE: 1n << 2n,
  READ_DIR: 1n << 3n,
  REMOVE_DIR: 1n << 4n,
  REMOVE_FILE: 1n << 5n,
  MAKE_CHAR: 1n << 6n,
  MAKE_DIR: 1n << 7n,
  MAKE_REG: 1n << 8n,
  MAKE_SOCK: 1n << 9n,
  MAKE_FIFO: 1n << 10n,
  MAKE_BLOCK: 1n << 11n,
  MAKE_SYM: 1n << 12n,
  REFER: 1n << 13n, // ABI 2
  TRUNCATE: 1n << 14n, // ABI 3
  IOCTL_DEV: 1n << 15n, // ABI 5
} as const;

export const SCOPE = { ABSTRACT_UNIX_SOCKET: 1n, SIGNAL: 2n } as const; // ABI 6

/** The highest ABI whose features cordon uses. */
export const LANDLOCK_ABI_USED = 6;

/** Every write-side right the given ABI knows. */
export function writeRights(abi: number): bigint {
  let m =
    FS.WRITE_FILE | FS.REMOVE_DIR | FS.REMOVE_FILE | FS.MAKE_CHAR | FS.MAKE_DIR | FS.MAKE_REG | FS.MAKE_SOCK |
    FS.MAKE_FIFO | FS.MAKE_BLOCK | FS.MAKE_SYM;
  if (abi >= 2) m |= FS.REFER;
  return m;
}

export function scopes(abi: number): bigint {
  return abi >= 6 ? SCOPE.ABSTRACT_UNIX_SOCKET | SCOPE.SIGNAL : 0n;
}

export interface LandlockRule {
  access: bigint;
  path: string;
}

/** Rules granting write rights: full in writable trees, device use (no creation) under /dev. */
export function landlockRules(abi: number, writable: readonly string[]): LandlockRule[] {
  const all = writeRights(abi);
  const deviceUse = all & (FS.WRITE_FILE | FS.TRUNCATE | FS.IOCTL_DEV);
  return [
    ...writable.map((path) => ({ access: all, path })),
    { access: all, path: '/tmp' },
    { access: deviceUse, path: '/dev' },
    { access: all, path: '/dev/shm' },
  ];
}
