// cordon – the job object every sandboxed process runs in: kill-on-close, process/memory/CPU limits, UI limits.
//
// The child joins atomically through PROC_THREAD_ATTRIBUTE_JOB_LIST; breakaway is never allowed, so every
// descendant stays in the job and dies when cordon terminates or closes it (invariant 4).
import { C } from './consts.js';
import type { JobPlan } from './plan.js';
import { check, type Win32 } from './win32.js';

export interface JobUsage {
  totalProcesses: number;
  activeProcesses: number;
  peakJobMemory: number;
  userTime100ns: bigint;
}

function setInfo(w: Win32, job: unknown, cls: number, type: unknown, value: object): void {
  const size = w.koffi.sizeof(type as never);
  const buf = Buffer.alloc(size);
  w.koffi.encode(buf, 0, type as never, value);
  check(w, 'SetInformationJobObject', w.kernel32.SetInformationJobObject!(job, cls, buf, size));
}

export function createJob(w: Win32, plan: JobPlan): unknown {
  const job = check(w, 'CreateJobObjectW', w.kernel32.CreateJobObjectW!(null, null));
  try {
    setInfo(w, job, C.JobObjectExtendedLimitInformation, w.t.JOBOBJECT_EXTENDED_LIMIT_INFORMATION, {
      BasicLimitInformation: {
        PerProcessUserTimeLimit: 0, PerJobUserTimeLimit: plan.perJobUserTimeLimit, LimitFlags: plan.limitFlags,
        MinimumWorkingSetSize: 0, MaximumWorkingSetSize: 0, ActiveProcessLimit: plan.activeProcessLimit,
        Affinity: 0, PriorityClass: 0, SchedulingClass: 0,
      },
      IoInfo: { ReadOperationCount: 0, WriteOperationCount: 0, OtherOperationCount: 0, ReadTransferCount: 0, WriteTransferCount: 0, OtherTransferCount: 0 },
      ProcessMemoryLimit: 0, JobMemoryLimit: plan.jobMemoryLimit, PeakProcessMemoryUsed: 0, PeakJobMemoryUsed: 0,
    });
    setInfo(w, job, C.JobObjectBasicUIRestrictions, w.t.JOBOBJECT_BASIC_UI_RESTRICTIONS, { UIRestrictionsClass: plan.uiRestrictions });
    return job;
  } catch (e) {
    w.kernel32.CloseHandle!(job);
    throw e;
  }
}

function query(w: Win32, job: unknown, cls: number, type: unknown): Record<string, any> {
  const size = w.koffi.sizeof(type as never);
  const buf = Buffer.alloc(size);
  check(w, 'QueryInformationJobObject', w.kernel32.QueryInformationJobObject!(job, cls, buf, size, [0]));
  return w.koffi.decode(buf, type as never) as Record<string, any>;
}

export function jobUsage(w: Win32, job: unknown): JobUsage {
  const acct = query(w, job, C.JobObjectBasicAccountingInformation, w.t.JOBOBJECT_BASIC_ACCOUNTING_INFORMATION);
  const ext = query(w, job, C.JobObjectExtendedLimitInformation, w.t.JOBOBJECT_EXTENDED_LIMIT_INFORMATION);
  return {
    totalProcesses: Number(acct.TotalProcesses),
    activeProcesses: Number(acct.ActiveProcesses),
    peakJobMemory: Number(ext.PeakJobMemoryUsed),
    userTime100ns: BigInt(acct.TotalUserTime),
  };
}

/** Ends every process in the job with `code`. */
export function terminateJob(w: Win32, job: unknown, code: number): void {
  w.kernel32.TerminateJobObject!(job, code);
}
