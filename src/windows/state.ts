// cordon – the per-user Windows state dir: workspace identities (capability SID) and the ACL grant journal.
//
// `%LOCALAPPDATA%\cordon\workspaces\<id>.json` records, per workspace, the synthetic capability SID and
// every ACE cordon added to the disk, so grants are applied once, updated when the policy changes, and
// revoked by `cordon windows teardown --grants`. The journal is written before an ACL is changed.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { AclEntry } from './plan.js';
import { appContainerName, randomCapabilitySid, workspaceId } from './sid.js';

export interface WorkspaceRecord {
  version: 1;
  workspace: string;
  capabilitySid: string;
  appContainerName: string;
  /** ACEs present on disk (or being applied: `pending` is written first, so a crash leaves a trace). */
  grants: AclEntry[];
  pending: AclEntry[];
  updatedAt: string;
}

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.LOCALAPPDATA ?? path.join(os.homedir(), 'AppData', 'Local');
  return path.join(base, 'cordon');
}

function recordPath(stateDir: string, workspace: string): string {
  return path.join(stateDir, 'workspaces', `${workspaceId(workspace)}.json`);
}

export function tempRoot(stateDir: string, workspace: string): string {
  return path.join(stateDir, 'tmp', workspaceId(workspace));
}

function writeAtomic(file: string, data: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(data, null, 2) + '\n');
  renameSync(tmp, file);
}

export function readWorkspace(stateDir: string, workspace: string): WorkspaceRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordPath(stateDir, workspace), 'utf8')) as WorkspaceRecord;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** The workspace's record, created (with a fresh capability SID) on first use. */
export function loadOrCreateWorkspace(stateDir: string, workspace: string): WorkspaceRecord {
  const existing = readWorkspace(stateDir, workspace);
  if (existing) return existing;
  const rec: WorkspaceRecord = {
    version: 1,
    workspace,
    capabilitySid: randomCapabilitySid(),
    appContainerName: appContainerName(workspace),
    grants: [],
    pending: [],
    updatedAt: new Date().toISOString(),
  };
  writeAtomic(recordPath(stateDir, rec.workspace), rec);
  return rec;
}

export function saveWorkspace(stateDir: string, rec: WorkspaceRecord): void {
  writeAtomic(recordPath(stateDir, rec.workspace), { ...rec, updatedAt: new Date().toISOString() });
}

export function listWorkspaces(stateDir: string): WorkspaceRecord[] {
  const dir = path.join(stateDir, 'workspaces');
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  return names.map((n) => JSON.parse(readFileSync(path.join(dir, n), 'utf8')) as WorkspaceRecord);
}

export function forgetWorkspace(stateDir: string, workspace: string): void {
  rmSync(recordPath(stateDir, workspace), { force: true });
  rmSync(tempRoot(stateDir, workspace), { recursive: true, force: true });
}

/** Elevated-setup record: AppContainer SIDs that have WFP filters and a loopback exemption. */
export interface WfpRecord {
  version: 1;
  sids: string[];
  proxyPorts: [number, number];
}

export function readWfpRecord(stateDir: string): WfpRecord | undefined {
  try {
    return JSON.parse(readFileSync(path.join(stateDir, 'wfp.json'), 'utf8')) as WfpRecord;
  } catch {
    return undefined;
  }
}

export function writeWfpRecord(stateDir: string, rec: WfpRecord | undefined): void {
  const file = path.join(stateDir, 'wfp.json');
  if (rec) writeAtomic(file, rec);
  else rmSync(file, { force: true });
}
