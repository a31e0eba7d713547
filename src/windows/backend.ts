// cordon – the Windows PlatformBackend: prepare = plan + once-per-workspace ACLs; start = command.ts.
//
// Default mode: write-restricted token + job + private desktop. Strict mode: AppContainer without
// capabilities. Every refusal of the plan becomes LAYER_UNAVAILABLE (fail closed); Win32 failures while
// preparing become SETUP_FAILED with the failing function and error code.
import { mkdirSync } from 'node:fs';
import path from 'node:path';

import { CordonError } from '../errors.js';
import type { Capabilities, PlatformBackend, PreparedPolicy, RunningCommand, StartRequest } from '../platform/backend.js';
import type { Policy } from '../policy/policy.js';
import { ensureAcl } from './acl.js';
import { ensureAppContainer } from './appcontainer.js';
import { startCommand } from './command.js';
import { probeWindows } from './doctor.js';
import { planWindows, type WindowsOptions, type WindowsPlan } from './plan.js';
import { defaultStateDir, loadOrCreateWorkspace, readWfpRecord, tempRoot } from './state.js';
import { Win32Error, win32 } from './win32.js';

export type { WindowsMode, WindowsOptions } from './plan.js';

export interface WindowsPrepared extends PreparedPolicy {
  readonly plan: WindowsPlan;
}

/** System trees readable by ALL APPLICATION PACKAGES (never re-ACLed in strict mode). */
export function systemReadable(env: NodeJS.ProcessEnv): string[] {
  return [env.SystemRoot ?? env.windir, env.ProgramFiles, env['ProgramFiles(x86)'], env.ProgramW6432]
    .filter((p): p is string => !!p)
    .map((p) => path.win32.normalize(p));
}

function setupFailed(step: string, e: unknown): CordonError {
  if (e instanceof Win32Error) {
    return new CordonError('SETUP_FAILED', `Windows sandbox setup failed at ${step}: ${e.message}`, { step, syscall: e.fn, errno: e.code });
  }
  return new CordonError('SETUP_FAILED', `Windows sandbox setup failed at ${step}: ${(e as Error).message}`, { step });
}

export function createWindowsBackend(options: WindowsOptions = {}): PlatformBackend {
  const mode = options.mode ?? 'default';
  return {
    name: `windows-${mode}`,
    probe(): Promise<Capabilities> {
      return probeWindows(options);
    },
    async prepare(policy: Policy): Promise<WindowsPrepared> {
      let w;
      try {
        w = win32();
      } catch (e) {
        throw new CordonError('LAYER_UNAVAILABLE', `Win32 bindings unavailable: ${(e as Error).message}`, { step: 'koffi' });
      }
      const stateDir = options.stateDir ?? defaultStateDir();
      const rec = loadOrCreateWorkspace(stateDir, policy.workspace);
      let appContainerSid: string | undefined;
      if (mode === 'strict') {
        try {
          appContainerSid = ensureAppContainer(w, rec.appContainerName);
        } catch (e) {
          throw new CordonError('LAYER_UNAVAILABLE', `AppContainer unavailable: ${(e as Error).message}`, {
            step: 'appcontainer', hint: 'strict mode needs Windows 10 1809+; use the default mode',
          });
        }
      }
      const tempDir = tempRoot(stateDir, policy.workspace);
      mkdirSync(tempDir, { recursive: true });
      const plan = planWindows(policy, { capabilitySid: rec.capabilitySid, appContainerName: rec.appContainerName, appContainerSid }, {
        systemReadable: systemReadable(process.env),
        tempDir,
        wfpSids: readWfpRecord(stateDir)?.sids ?? [],
        env: process.env as Record<string, string>,
      }, options);
      if (plan.refusals.length > 0) {
        throw new CordonError('LAYER_UNAVAILABLE', `Windows ${mode} mode cannot enforce this policy: ${plan.refusals.join('; ')}`, {
          step: 'plan', hint: mode === 'default' ? 'use strict mode (AppContainer), or opt in explicitly' : 'see `cordon doctor`',
        });
      }
      let acl;
      try {
        acl = ensureAcl(w, stateDir, rec, plan.acl);
      } catch (e) {
        throw setupFailed('acl', e);
      }
      const warnings = [
        ...plan.warnings,
        ...plan.unenforced.map((u) => `not enforced on Windows (${mode} mode): ${u}`),
        ...(acl.absent.length > 0 ? [`ACL entries for paths that do not exist yet were skipped: ${acl.absent.join(', ')}`] : []),
      ];
      return { policy, warnings, plan };
    },
    start(prepared: PreparedPolicy, request: StartRequest): RunningCommand {
      return startCommand((prepared as WindowsPrepared).plan, request);
    },
  };
}
