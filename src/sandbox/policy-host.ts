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
  /** Their identity (inode, size, mtime) when they were read. */
  readonly stamp: string;
}

/** inode:size:mtime of each file: a cheap way to tell whether any of them changed. */
export function fileStamp(files: readonly string[]): string {
  return files
    .map((f) => {
      try {
        const st = statSync(f, { bigint: true });
        return `${st.ino}:${st.size}:${st.mtimeNs}`;
      } catch {
        return 'missing';
      }
    })
    .join('|');
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
  private poll: NodeJS.Timeout | undefined;
  private watcherReady: Promise<void> = Promise.resolve();
  private reloadTimer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> = Promise.resolve();
  private failedStamp: string | undefined;
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
  private async build(previous?: PolicyState): Promise<PolicyState> {
    const o = this.options;
    // Stamped before reading: an edit while building shows up as a change next time.
    const stampBefore = previous ? fileStamp(previous.files) : undefined;
    // Allow rules given as options mean "allow these": allowlist mode unless a mode is given too.
    const net = o.overlay.network;
    const overlay = net?.allow?.length && !net.mode ? { ...o.overlay, network: { ...net, mode: 'allowlist' as const } } : o.overlay;
    const profile = overlayProfile(loadProfile(o.profile), overlay, 'API/CLI option');
    const sources = managedSources();
    const policy = compileUnderManaged(profile, this.compileOptions(), sources);
    const secrets = resolveSecrets(policy, o.callerEnv, o.secrets);
    const redactor = new Redactor(secrets);
    const prepared = await this.backend.prepare(policy, o.prepare);
    const files = [...profile.files, ...sources.map((f) => path.resolve(f))];
    const same = previous && files.length === previous.files.length && files.every((f, i) => f === previous.files[i]);
    const stamp = same && stampBefore !== undefined ? stampBefore : fileStamp(files);
    return { policy, prepared, redactor, secretEnv: Object.fromEntries(secrets), files, stamp };
  }

  /**
   * Starts a command under the current policy, with the deny-glob matches brought up to date first
   * (on Linux one inotify drain and a stat per scanned root when nothing changed; elsewhere one stat
   * per directory of the scanned trees; unchanged directories are never re-read).
   */
  start(request: StartRequest): RunningCommand {
    // Watching: a profile edited since it was read is reloaded before this command starts (one
    // stat per profile file), so no command runs under a policy older than the files on disk.
    if (this.options.watch) {
      const now = fileStamp(this.state.files);
      if (now !== this.state.stamp && now !== this.failedStamp) {
        return deferredRunning(this.requestReload().then(() => this.start(request)));
      }
    }
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
      this.reloadTimer = setTimeout(() => void this.requestReload(), 30);
    };
    this.watcher.on('all', schedule);
    this.watcher.on('error', (err) => this.onError(err as Error));
    // chokidar drops a change that follows another within its throttle window, and editors that
    // save by rename can slip past it: a cheap stat of the few profile files catches what it misses.
    this.poll = setInterval(() => {
      const now = fileStamp(this.state.files);
      if (now !== this.state.stamp && now !== this.failedStamp) schedule();
    }, 250);
    this.poll.unref();
  }

  /** Resolves once the watcher is ready (tests; editors saving right after create). */
  async ready(): Promise<void> {
    await this.watcherReady;
  }

  /** Queues a reload after any in progress; skipped when the files are as last read (or as last failed). */
  requestReload(): Promise<void> {
    this.reloading = this.reloading.then(async () => {
      const now = fileStamp(this.state.files);
      if (now === this.state.stamp || now === this.failedStamp) return;
      await this.reload();
    });
    return this.reloading;
  }

  /** Waits for a reload in progress (tests). */
  settled(): Promise<void> {
    return this.reloading;
  }

  /** Rebuilds from the files; on success swaps the policy for later commands, on failure keeps the last good one. */
  async reload(): Promise<boolean> {
    const stamp = fileStamp(this.state.files);
    try {
      const next = await this.build(this.state);
      const previous = this.state;
      this.state = next;
      this.backend.release?.(previous.prepared);
      const added = next.files.filter((f) => !this.watchedFiles().includes(f));
      if (added.length) this.watcher?.add(added);
      this.onReload(next.policy);
      return true;
    } catch (err) {
      this.failedStamp = stamp;
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
    if (this.poll) clearInterval(this.poll);
    await this.watcher?.close();
    this.watcher = undefined;
  }
}
