// cordon – the compiled, platform-neutral Policy: absolute paths, no globs, no variables left.
//
// Produced by policy/compile.ts from a validated Profile; consumed by the platform planners
// (linux/plan.ts, windows/plan.ts). Backends never see raw profile JSON. A Policy is frozen.

/** One filesystem grant or restriction, always an absolute, normalised host path. */
export interface FsPolicy {
  /** Trees the command may read and execute (recursively). Anything not under one of these is absent. */
  readonly read: readonly string[];
  /** Trees the command may read, write, create and delete in (recursively). */
  readonly write: readonly string[];
  /** Paths inside writable trees that stay read-only (e.g. `.git/hooks`). Deny-wins over `write`. */
  readonly protected: readonly string[];
  /** Paths that are masked: unreadable and unlistable. Deny wins over `read`, `write` and `protected`. */
  readonly deny: readonly string[];
  /**
   * Glob patterns (minimatch syntax, absolute) denied inside readable/writable trees, e.g.
   * `/home/u/proj/**\/.env`. Compile expands them to concrete `deny` entries for files that exist.
   */
  readonly denyGlobs: readonly string[];
}

export type NetworkMode = 'none' | 'allowlist' | 'host';

/** A network rule: host pattern plus ports. Deny rules win over allow rules. */
export interface NetRule {
  readonly action: 'allow' | 'deny';
  /** `example.com`, `*.example.com` (subdomains only), an IPv4/IPv6 literal, or a CIDR. `*` = any. */
  readonly host: string;
  /** Inclusive port ranges; `[[1, 65535]]` means any port. */
  readonly ports: readonly (readonly [number, number])[];
  /** A hostname rule may reach private/loopback/link-local/metadata addresses only when this is set. */
  readonly allowPrivate?: boolean;
  /** Where the rule came from (profile file and index, or `--allow-net`), for explain and audit. */
  readonly source: string;
}

export interface NetworkPolicy {
  readonly mode: NetworkMode;
  readonly rules: readonly NetRule[];
  /** Test hook and pinning: names resolved by cordon itself instead of the host resolver. */
  readonly hosts: Readonly<Record<string, readonly string[]>>;
  /**
   * Host unix sockets the command may connect to (real paths of existing sockets): bound into the
   * sandbox at their paths and let through by the unix-socket guard (native/launcher/unix_guard.h).
   */
  readonly unixSockets: readonly string[];
}

export interface EnvPolicy {
  /** Names passed through from the caller's environment (exact names or `PREFIX_*`). */
  readonly allow: readonly string[];
  /** Names never passed, even if allowed (deny wins). */
  readonly deny: readonly string[];
  /** Fixed values set for every command. */
  readonly set: Readonly<Record<string, string>>;
}

export interface LimitsPolicy {
  /** Size of the private /tmp tmpfs in bytes. */
  readonly tmpBytes: number;
  readonly memoryBytes?: number;
  readonly pids?: number;
  readonly cpuSeconds?: number;
  readonly maxFiles?: number;
  readonly timeoutMs?: number;
  readonly maxOutputBytes?: number;
}

/** Explicit, logged opt-ins to run with a layer missing. Absent = fail closed. */
export interface WeakerPolicy {
  /** Run even when Landlock is not available in this kernel. */
  readonly allowMissingLandlock?: boolean;
  /** The profile acknowledged a writable root that is /, a system tree or the whole home. */
  readonly allowBroadWrite?: boolean;
  /** The profile acknowledged a network allow rule for any host. */
  readonly allowAnyHost?: boolean;
  /** The profile acknowledged passing the whole caller environment. */
  readonly allowAllEnv?: boolean;
}

/** Where a compiled entry came from: the rule as written and `file:line:col json.path` (or `built-in: …`). */
export interface RuleOrigin {
  readonly rule: string;
  readonly source: string;
}

/** Provenance of every compiled entry, for `cordon profile explain`, diff and managed-floor errors. */
export interface PolicyProvenance {
  /** Keyed by the compiled path (fs), pattern (env) or field name (`network.mode`, `limits.memory`, `unsafe.*`). */
  readonly read: Readonly<Record<string, RuleOrigin>>;
  readonly write: Readonly<Record<string, RuleOrigin>>;
  readonly protected: Readonly<Record<string, RuleOrigin>>;
  readonly deny: Readonly<Record<string, RuleOrigin>>;
  readonly env: Readonly<Record<string, RuleOrigin>>;
  readonly fields: Readonly<Record<string, RuleOrigin>>;
}

/** A named secret handed to commands as an environment variable. The value is never part of the Policy. */
export interface SecretRef {
  /** The variable name the command sees. */
  readonly name: string;
  /** The caller's variable holding the value, or */
  readonly fromEnv?: string;
  /** the host file holding it (absolute; one trailing newline dropped). */
  readonly fromFile?: string;
  readonly source: string;
}

export interface Policy {
  /** Profile name (or file) this policy came from, for logs and explain. */
  readonly name: string;
  /** The workspace directory (absolute, real path); the default cwd. */
  readonly workspace: string;
  /** The caller's home directory (absolute, real path). */
  readonly home: string;
  readonly fs: FsPolicy;
  readonly network: NetworkPolicy;
  readonly env: EnvPolicy;
  readonly limits: LimitsPolicy;
  readonly weaker: WeakerPolicy;
  /** Secrets handed to every command (values resolved by the Sandbox, redacted from output). */
  readonly secrets?: readonly SecretRef[];
  /** Where each entry came from (absent for policies built by hand). */
  readonly provenance?: PolicyProvenance;
}
