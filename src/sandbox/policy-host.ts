// cordon – the policy a Sandbox runs commands under: built from profile + overrides under the managed floor,
// kept current (deny-glob matches per command, profile edits with `watch`), with its secrets and their redactor.
//
// Commands take a snapshot when they start: a reload or a new glob match only affects later commands.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';

import { watch as chokidarWatch, type FSWatcher } from 'chokidar';

import { CordonError } from '../errors.js';
import type { PlatformBackend, PrepareOptions, PreparedPolicy, RunningCommand, StartRequest } from '../platform/backend.js';
import type { CompileOptions } from '../policy/compile.js';
import { refreshGlobDenies } from '../policy/compile.js';
import { GlobIndex } from '../policy/globscan.js';
import type { Policy } from '../policy/policy.js';
import { loadProfile, overlayProfile, type ProfileBody } from '../profile/load.js';
import { compileUnderManaged, managedSources } from '../profile/managed.js';
import { deferredRunning } from './deferred.js';
import { MIN_SECRET_BYTES, Redactor } from './redact.js';

/** A secret given through the API: a literal value, or where to read it. */
export type SecretOption = string | { fromEnv: string } | { fromFile: string };

export interface PolicyHostOptions {
  profile: string;
  overlay: ProfileBody;
  workspace: string;
  home?: string;
  callerEnv: NodeJS.ProcessEnv;
  secrets?: Readonly<Record<string, SecretOption>>;
  /** Watch the profile files (and managed files) and reload on change. */
  watch?: boolean;
  prepare?: PrepareOptions;
}

export interface PolicyState {
  readonly policy: Policy;
  readonly prepared: PreparedPolicy;
  readonly redactor: Redactor;
  /** Secret variables added to every command's environment. */
  readonly secretEnv: Readonly<Record<string, string>>;
  /** Files whose change triggers a reload. */
  readonly files: readonly string[];
}

const MAX_SECRET_FILE = 1 << 20;

function readSecretFile(name: string, file: string): string {
  let st;
  try {
    st = statSync(file);
  } catch (err) {
    throw new CordonError('POLICY_INVALID', `secret ${name}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { path: `secrets.${name}` });
  }
  if (!st.isFile() || st.size > MAX_SECRET_FILE) {
    throw new CordonError('POLICY_INVALID', `secret ${name}: ${file} is not a regular file of at most 1 MiB`, { path: `secrets.${name}` });
  }
  return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
}

/** Reads every secret's value. Errors name the secret and its source, never a value. */
export function resolveSecrets(policy: Policy, callerEnv: NodeJS.ProcessEnv, api: Readonly<Record<string, SecretOption>> = {}): Map<string, string> {
  const out = new Map<string, string>();
  const refs: Array<{ name: string; fromEnv?: string; fromFile?: string; value?: string; source: string }> = [...(policy.secrets ?? [])];
  for (const [name, opt] of Object.entries(api)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new CordonError('BAD_ARGUMENT', `secrets: "${name}" is not an environment variable name`);
    refs.push(typeof opt === 'string' ? { name, value: opt, source: 'API option secrets' } : { name, ...opt, source: 'API option secrets' });
  }
  for (const ref of refs) {
    let value: string;
    if (ref.value !== undefined) value = ref.value;
    else if (ref.fromEnv !== undefined) {
      const v = callerEnv[ref.fromEnv];
      if (v === undefined) {
        throw new CordonError('POLICY_INVALID', `secret ${ref.name} (${ref.source}): the caller's environment has no ${ref.fromEnv}`, {
          path: `secrets.${ref.name}`,
          hint: `export ${ref.fromEnv} before running cordon`,
        });
      }
      value = v;
    } else value = readSecretFile(ref.name, path.resolve(ref.fromFile ?? ''));
    if (Buffer.byteLength(value) < MIN_SECRET_BYTES) {
      throw new CordonError('POLICY_INVALID', `secret ${ref.name} (${ref.source}) is shorter than ${MIN_SECRET_BYTES} bytes; too short to redact reliably`, {
        path: `secrets.${ref.name}`,
      });
    }
    if (value.includes('\0')) throw new CordonError('POLICY_INVALID', `secret ${ref.name} (${ref.source}) contains a NUL byte`, { path: `secrets.${ref.name}` });
    out.set(ref.name, value);
  }
  return out;
}

export class PolicyHost {
  private state!: PolicyState;
  private readonly globIndex = new GlobIndex();
  private readonly preparing = new Map<Policy, Promise<PreparedPolicy>>();
  private watcher: FSWatcher | undefined;
  private watcherReady: Promise<void> = Promise.resolve();
  private reloadTimer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> = Promise.resolve();
  /** Called with an invalid edit (the last good policy stays); and after a successful reload. */
  onError: (err: Error) => void = () => {};
  onReload: (policy: Policy) => void = () => {};

  private constructor(
    private readonly options: PolicyHostOptions,
    private readonly backend: PlatformBackend,
  ) {}

  static async create(options: PolicyHostOptions, backend: PlatformBackend): Promise<PolicyHost> {
    const host = new PolicyHost(options, backend);
    host.state = await host.build();
    if (options.watch) host.startWatching();
    return host;
  }

  get current(): PolicyState {
    return this.state;
  }

  private compileOptions(): CompileOptions {
    return { workspace: this.options.workspace, home: this.options.home, env: this.options.callerEnv, globIndex: this.globIndex };
  }

  /** Loads, compiles (under the managed floor), resolves secrets and prepares; throws on any problem. */
  private async build(): Promise<PolicyState> {
    const o = this.options;
    const profile = overlayProfile(loadProfile(o.profile), o.overlay, 'API/CLI option');
    const sources = managedSources();
    const policy = compileUnderManaged(profile, this.compileOptions(), sources);
    const secrets = resolveSecrets(policy, o.callerEnv, o.secrets);
    const redactor = new Redactor(secrets);
    const prepared = await this.backend.prepare(policy, o.prepare);
    const files = [...profile.files, ...sources.map((f) => path.resolve(f))];
    return { policy, prepared, redactor, secretEnv: Object.fromEntries(secrets), files };
  }

  /**
   * Starts a command under the current policy, with the deny-glob matches brought up to date first
   * (one stat per directory of the scanned trees; unchanged directories are not re-read).
   */
  start(request: StartRequest): RunningCommand {
    const state = this.state;
    const policy = refreshGlobDenies(state.policy);
    if (policy === state.policy) return this.backend.start(state.prepared, request);
    let pending = this.preparing.get(policy);
    if (!pending) {
      pending = this.backend.prepare(policy, this.options.prepare).then((prepared) => {
        // Adopt it for later commands unless a reload replaced the policy meanwhile.
        if (this.state === state) {
          this.state = { ...state, policy, prepared };
          this.backend.release?.(state.prepared);
        }
        this.preparing.delete(policy);
        return prepared;
      });
      pending.catch(() => this.preparing.delete(policy));
      this.preparing.set(policy, pending);
    }
    return deferredRunning(pending.then((prepared) => this.backend.start(prepared, request)));
  }

  private startWatching(): void {
    const watcher = chokidarWatch([...this.state.files], { ignoreInitial: true, persistent: true });
    this.watcher = watcher;
    this.watcherReady = new Promise((resolve) => watcher.once('ready', () => resolve()));
    const schedule = () => {
      if (this.reloadTimer) clearTimeout(this.reloadTimer);
      this.reloadTimer = setTimeout(() => {
        this.reloading = this.reloading.then(async () => void (await this.reload()));
      }, 30);
    };
    this.watcher.on('all', schedule);
    this.watcher.on('error', (err) => this.onError(err as Error));
  }

  /** Resolves once the watcher is ready (tests; editors saving right after create). */
  async ready(): Promise<void> {
    await this.watcherReady;
  }

  /** Waits for a reload in progress (tests). */
  settled(): Promise<void> {
    return this.reloading;
  }

  /** Rebuilds from the files; on success swaps the policy for later commands, on failure keeps the last good one. */
  async reload(): Promise<boolean> {
    try {
      const next = await this.build();
      const previous = this.state;
      this.state = next;
      this.backend.release?.(previous.prepared);
      const added = next.files.filter((f) => !this.watchedFiles().includes(f));
      if (added.length) this.watcher?.add(added);
      this.onReload(next.policy);
      return true;
    } catch (err) {
      this.onError(this.state.redactor.redactError(err) as Error);
      return false;
    }
  }

  private watchedFiles(): string[] {
    const w = this.watcher?.getWatched() ?? {};
    return Object.entries(w).flatMap(([dir, names]) => names.map((n) => path.join(dir, n)));
  }

  async close(): Promise<void> {
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    await this.watcher?.close();
    this.watcher = undefined;
  }
}
