// cordon tests – generates a C file of _Static_asserts pinning cordon's koffi structs and constants to mingw-w64's headers.
//
// koffi (the Linux build, loaded only by this test) computes size and member offsets of every struct in
// src/windows/structs.ts; all members are fixed-width or pointer-sized, so LP64 and LLP64 agree.
import { createRequire } from 'node:module';

import { MITIGATIONS, WIN32_CONSTANTS } from '../../dist/windows/consts.js';
import { defineStructs, type KoffiModule } from '../../dist/windows/structs.js';

/** Member sizes that legitimately differ: mingw declares FWPM_SUBLAYER0.flags UINT16, the SDK UINT32 (same offsets). */
const MEMBER_SIZE_EXCEPTIONS = new Set(['FWPM_SUBLAYER0.flags']);

let structs: ReturnType<typeof defineStructs> | undefined;
let koffi: KoffiModule | undefined;

export function koffiStructs(): { koffi: KoffiModule; structs: ReturnType<typeof defineStructs> } {
  koffi ??= createRequire(import.meta.url)('koffi') as KoffiModule;
  structs ??= defineStructs(koffi);
  return { koffi, structs };
}

export function layoutAssertions(opts: { breakOne?: boolean } = {}): { source: string; count: number } {
  const { koffi: k, structs: s } = koffiStructs();
  const lines: string[] = [
    '#define WIN32_LEAN_AND_MEAN',
    '#define _WIN32_WINNT 0x0A00',
    '#define WINVER 0x0A00',
    '#include <windows.h>',
    '#include <aclapi.h>',
    '#include <userenv.h>',
    '#include <fwpmu.h>',
    '#include <stddef.h>',
    '#define MEMBER_SIZE(T, m) sizeof(((T *)0)->m)',
  ];
  let count = 0;
  const assert = (expr: string, msg: string) => {
    lines.push(`_Static_assert(${expr}, "${msg}");`);
    count++;
  };
  for (const [name, type] of Object.entries(s)) {
    const info = k.introspect(type);
    const size = opts.breakOne && count === 0 ? info.size + 8 : info.size;
    assert(`sizeof(${name}) == ${size}`, `sizeof ${name}`);
    for (const m of Object.values(info.members ?? {})) {
      assert(`offsetof(${name}, ${m.name}) == ${m.offset}`, `offsetof ${name}.${m.name}`);
      if (!MEMBER_SIZE_EXCEPTIONS.has(`${name}.${m.name}`)) {
        assert(`MEMBER_SIZE(${name}, ${m.name}) == ${k.sizeof(m.type)}`, `size of ${name}.${m.name}`);
      }
    }
  }
  for (const [name, value] of Object.entries(WIN32_CONSTANTS)) {
    assert(`(unsigned long long)(${name}) == 0x${(value >>> 0).toString(16)}ULL`, name);
  }
  for (const [name, value] of Object.entries(MITIGATIONS)) {
    assert(`(unsigned long long)(${name}) == 0x${value.toString(16)}ULL`, name);
  }
  return { source: lines.join('\n') + '\n', count };
}
