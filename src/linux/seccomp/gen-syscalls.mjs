#!/usr/bin/env node
// cordon – regenerates syscalls-x86_64.ts, the x86-64 syscall table the seccomp generator uses.
//
//   node src/linux/seccomp/gen-syscalls.mjs [/usr/include/x86_64-linux-gnu/asm/unistd_64.h]
//
// The table is checked in as data: nothing reads kernel headers at run time. The build machine's
// headers (Debian 12: linux-libc-dev 6.1) stop at 450, so syscalls added later, up to Linux 6.18, are
// listed below by hand. Each was checked against arch/x86/entry/syscalls/syscall_64.tbl of a
// 6.19 tree and probed on the 6.18 target (syscall(nr, -1, …) answers EBADF/EINVAL/EFAULT/SIGILL,
// not ENOSYS; 470, listns, is 6.19 and answers ENOSYS on 6.18).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const NEWER = [
  ['uretprobe', 335], // 6.11
  ['uprobe', 336], // 6.18
  ['cachestat', 451], // 6.5
  ['fchmodat2', 452], // 6.6
  ['map_shadow_stack', 453], // 6.6
  ['futex_wake', 454], // 6.7
  ['futex_wait', 455],
  ['futex_requeue', 456],
  ['statmount', 457], // 6.8
  ['listmount', 458],
  ['lsm_get_self_attr', 459],
  ['lsm_set_self_attr', 460],
  ['lsm_list_modules', 461],
  ['mseal', 462], // 6.10
  ['setxattrat', 463], // 6.13
  ['getxattrat', 464],
  ['listxattrat', 465],
  ['removexattrat', 466],
  ['open_tree_attr', 467], // 6.15
  ['file_getattr', 468], // 6.17
  ['file_setattr', 469],
];
const KERNEL = '6.18';

const header = process.argv[2] ?? '/usr/include/x86_64-linux-gnu/asm/unistd_64.h';
const table = new Map();
for (const m of readFileSync(header, 'utf8').matchAll(/^#define __NR_(\w+)\s+(\d+)\s*$/gm)) {
  table.set(m[1], Number(m[2]));
}
if (table.get('read') !== 0 || table.get('getpid') !== 39) throw new Error(`${header} is not an x86-64 unistd_64.h`);
for (const [name, nr] of NEWER) {
  const have = table.get(name);
  if (have !== undefined && have !== nr) throw new Error(`${name}: header says ${have}, list says ${nr}`);
  for (const [n, v] of table) if (v === nr && n !== name) throw new Error(`${nr}: ${n} in header, ${name} in list`);
  table.set(name, nr);
}
const rows = [...table].sort((a, b) => a[1] - b[1]);
const out = `// cordon – the x86-64 syscall table (name → number), up to Linux ${KERNEL}. GENERATED, do not edit:
//   node src/linux/seccomp/gen-syscalls.mjs [path/to/asm/unistd_64.h]
// Source: ${path.basename(header)} from the build machine's kernel headers, plus the syscalls added after
// them (listed in gen-syscalls.mjs, checked against the kernel's syscall_64.tbl and the ${KERNEL} target).

/** Linux version the table is complete for. */
export const SYSCALL_TABLE_KERNEL = '${KERNEL}';

/** [name, number], sorted by number. */
export const SYSCALLS_X86_64: ReadonlyArray<readonly [string, number]> = [
${rows.map(([n, v]) => `  ['${n}', ${v}],`).join('\n')}
];
`;
const dest = path.join(path.dirname(fileURLToPath(import.meta.url)), 'syscalls-x86_64.ts');
writeFileSync(dest, out);
console.log(`wrote ${dest}: ${rows.length} syscalls, max ${rows.at(-1)[1]}`);
