// cordon – `cordon explain --seccomp`: the generated filter, readably.
import { AUDIT_ARCH_X86_64, X32_SYSCALL_BIT } from './bpf.js';
import { type FilterOptions, type SyscallRange, generateFilter } from './generate.js';
import { proveCacheable, runFilter } from './interpreter.js';
import { type ArgCheck, type SyscallRule, UNKNOWN_SYSCALL, syscallName } from './policy.js';

const ERRNO_NAMES: Record<number, string> = { 1: 'EPERM', 38: 'ENOSYS' };
const errnoName = (e: number): string => ERRNO_NAMES[e] ?? `errno ${e}`;
const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

function span(r: SyscallRange): string {
  const last = r.last >= X32_SYSCALL_BIT - 1 ? hex(r.last) : String(r.last);
  return r.first === r.last ? String(r.first) : `${r.first}-${last}`;
}

function actionText(rule: SyscallRule, denyAction: 'notify' | 'errno'): string {
  const a = rule.action;
  switch (a.kind) {
    case 'allow':
      return 'allow';
    case 'errno':
      return `errno ${errnoName(a.errno)}`;
    case 'deny':
      return denyAction === 'notify' ? `deny ${errnoName(a.errno)}, reported` : `errno ${errnoName(a.errno)} (unreported test variant)`;
    case 'args':
      return 'check arguments';
    case 'supervise':
      return denyAction === 'notify' ? 'supervised by pid 1 (not a violation)' : 'allow (unsupervised test variant)';
  }
}

function checkText(c: ArgCheck, indent: string): string[] {
  const lines: string[] = [];
  const subject = `low32(args[${c.arg}])${c.mask !== undefined ? ` & ${hex(c.mask)}` : ''}`;
  for (const cs of c.cases) {
    const cond = cs.op === 'eq' ? `${subject} == ${hex(cs.value)}` : `${subject} & ${hex(cs.value)} != 0`;
    const t = cs.then;
    if (typeof t === 'string') lines.push(`${indent}if ${cond} → ${t}`);
    else lines.push(`${indent}if ${cond}:`, ...checkText(t, `${indent}  `));
  }
  const o = c.otherwise;
  if (typeof o === 'string') lines.push(`${indent}else → ${o}`);
  else lines.push(`${indent}else:`, ...checkText(o, `${indent}  `));
  return lines;
}

/** Names in [first, last] (at most the table's), wrapped to `width`. */
function names(r: SyscallRange, indent: string, width = 100): string[] {
  const found: string[] = [];
  let holes = 0;
  const end = Math.min(r.last, 1023);
  for (let nr = r.first; nr <= end; nr++) {
    const n = syscallName(nr);
    if (n) found.push(n);
    else holes++;
  }
  if (holes > 0 || r.last > end) found.push(r.last > end ? '(and every higher number)' : `(${holes} unassigned)`);
  const lines: string[] = [];
  let line = indent;
  for (const n of found) {
    if (line.length + n.length + 1 > width && line.trim()) {
      lines.push(line);
      line = indent;
    }
    line += (line.trim() ? ' ' : '') + n;
  }
  if (line.trim()) lines.push(line);
  return lines;
}

/** Readable description of the seccomp filter cordon installs for `options`. */
export function explainSeccomp(options: FilterOptions): string {
  const denyAction = options.denyAction ?? 'notify';
  const g = generateFilter(options);
  const out: string[] = [];
  out.push(
    `seccomp filter: x86-64, network '${options.network}', ${g.insns.length} instructions (kernel limit 4096)`,
    `denials: ${denyAction === 'notify' ? 'SECCOMP_RET_USER_NOTIF, answered with the errno below and reported as violations by the sandbox\'s pid 1' : 'SECCOMP_RET_ERRNO directly (test variant, not reported)'}`,
    '',
    'Architecture (checked first):',
    `  arch != AUDIT_ARCH_X86_64 (${hex(AUDIT_ARCH_X86_64)}) → KILL_PROCESS: i386 \`int 0x80\` and any other ABI`,
    `  nr >= ${hex(X32_SYSCALL_BIT)} → KILL_PROCESS: x32 syscalls (and nr = -1)`,
    '',
    `Syscall numbers (${g.ranges.length} ranges, binary search; adjacent numbers with the same action merged):`,
  );
  for (const r of g.ranges) {
    const a = r.rule.action;
    if (a.kind === 'deny' || (a.kind === 'errno' && r.first !== r.last)) {
      // Merged denials can differ in errno and reason: list them one by one.
      out.push(`  ${span(r)}`);
      let holes = 0;
      for (let nr = r.first; nr <= Math.min(r.last, 1023); nr++) {
        const rule = g.policy.get(nr);
        const n = syscallName(nr);
        if (!n || !rule) holes++;
        else out.push(`    ${nr} ${n}: ${actionText(rule, denyAction)}${rule.why ? ` — ${rule.why}` : ''}`);
      }
      if (r.last > 1023) out.push(`    every higher number: errno ENOSYS — ${UNKNOWN_SYSCALL.why}`);
      else if (holes > 0) out.push(`    ${holes} unassigned number${holes > 1 ? 's' : ''}: errno ENOSYS`);
      continue;
    }
    out.push(`  ${span(r)}: ${actionText(r.rule, denyAction)}${r.rule.why && a.kind !== 'args' ? ` — ${r.rule.why}` : ''}`);
    if (a.kind === 'allow') out.push(...names(r, '      '));
    else if (a.kind === 'args') out.push(`      ${syscallName(r.first) ?? r.first}`);
    else out.push(...names(r, '      '));
  }
  out.push('', 'Argument rules (cold syscalls; only these run BPF on every call, the rest is cached by the kernel):');
  for (const [nr, rule] of [...g.policy].sort((x, y) => x[0] - y[0])) {
    if (rule.action.kind !== 'args') continue;
    out.push(`  ${syscallName(nr)} (${nr}): ${rule.why ?? ''}`, ...checkText(rule.action.check, '    '));
  }
  out.push(`  a denied check is reported and answered with EPERM`);

  // Proof, live: every allowed number decided by nr/arch alone, and the longest path.
  const allowedNrs = [...g.policy].filter(([, rule]) => rule.action.kind === 'allow').map(([nr]) => nr);
  const failures = proveCacheable(g.insns, allowedNrs, AUDIT_ARCH_X86_64);
  let maxSteps = 0;
  for (const nr of g.policy.keys()) {
    maxSteps = Math.max(maxSteps, runFilter(g.insns, { nr, arch: AUDIT_ARCH_X86_64 }).steps);
  }
  const counts = { deny: 0, errno: 0, args: 0, supervise: 0 };
  for (const rule of g.policy.values()) if (rule.action.kind !== 'allow') counts[rule.action.kind]++;
  out.push(
    '',
    `Totals: ${allowedNrs.length} allowed (${allowedNrs.length - failures.length} proven cacheable by the interpreter), ${counts.args} argument-checked, ` +
      `${counts.deny} denied and reported, ${counts.errno} constant errno${counts.supervise ? `, ${counts.supervise} supervised` : ''}; longest path ${maxSteps} instructions.`,
  );
  for (const f of failures) out.push(`NOT CACHEABLE: ${syscallName(f.nr) ?? f.nr} (${f.nr}): ${f.reason}`);
  if (denyAction === 'notify') out.push(`notify errno table: ${g.notifyErrno.map(([nr, e]) => `${syscallName(nr)}=${errnoName(e)}`).join(', ') || '(none)'}; others EPERM`);
  return `${out.join('\n')}\n`;
}
