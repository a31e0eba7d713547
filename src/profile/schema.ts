// cordon – the profile language (version 1) as a zod schema: the single source of truth for validation and profiles/schema.json.
import { z } from 'zod';

/**
 * JSON has no comments, so every object in a profile accepts a `"//"` key: a string or a list of
 * strings that cordon ignores. `cordon profile init` writes its explanations there.
 */
const comment = z
  .union([z.string(), z.array(z.string())])
  .optional()
  .describe('A comment: ignored by cordon, kept for the people who review the profile.');

/** An environment variable name (POSIX shell rules). */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const pathList = z
  .array(z.string().min(1, 'a path may not be empty'))
  .describe('Paths: absolute, `~/…`, or starting with a variable such as ${workspace}, ${home}, ${tmp}, ${env:NAME}.');

/** A size such as 512m, 1g, 65536 (bytes). */
export const sizeSchema = z
  .union([z.number().int().positive(), z.string().regex(/^\d+(\.\d+)?\s*([kmgt]i?b?|b)?$/i, 'a size like 512m, 2g or 65536')])
  .describe('A size in bytes, or a number with a k/m/g/t suffix (binary units).');

export const filesystemSchema = z
  .strictObject({
    '//': comment,
    read: pathList.optional().describe('Trees readable (and executable). Everything else is absent from the sandbox.'),
    write: pathList.optional().describe('Trees readable and writable.'),
    protected: pathList
      .optional()
      .describe('Paths inside writable trees that stay read-only (e.g. ${workspace}/.git/hooks).'),
    deny: pathList
      .optional()
      .describe('Paths or globs that are masked: unreadable and unlistable. Deny wins over read, write and protected.'),
    allowSecrets: pathList
      .optional()
      .describe("Built-in credential paths (e.g. ~/.aws) this profile deliberately exposes. Read/write rules still apply."),
  })
  .describe('Filesystem rules. Deny wins over allow at the same or a deeper path.');

export const networkSchema = z
  .strictObject({
    '//': comment,
    mode: z
      .enum(['none', 'allowlist', 'host'])
      .optional()
      .describe('none: loopback only (default). allowlist: only the allow rules. host: the host network, unpoliced.'),
    allow: z.array(z.string().min(1)).optional().describe('HOST[:PORTS] rules: example.com, *.example.com, 10.0.0.0/8, [::1]:443, host:8000-8100.'),
    deny: z.array(z.string().min(1)).optional().describe('HOST[:PORTS] rules that win over allow.'),
    allowPrivate: z.boolean().optional().describe('Let hostname rules reach private, loopback and link-local addresses.'),
    unixSockets: z
      .array(z.string().min(1))
      .optional()
      .describe('Host unix sockets the command may connect to, in any mode (an ssh agent: "${env:SSH_AUTH_SOCK}"): each is made visible at its path; every other socket bound outside the sandbox is refused.'),
    hosts: z
      .record(z.string(), z.array(z.string()))
      .optional()
      .describe('Names cordon resolves itself (tests, pinning): {"api.internal": ["127.0.0.1"]}.'),
  })
  .describe('Network rules.');

export const envSchema = z
  .strictObject({
    '//': comment,
    allow: z.array(z.string().min(1)).optional().describe('Variable names passed from the caller; NAME or PREFIX_*. A bare * needs unsafe.allowAllEnv.'),
    deny: z.array(z.string().min(1)).optional().describe('Variable names never passed (wins over allow).'),
    set: z.record(z.string(), z.string()).optional().describe('Variables set to fixed values.'),
  })
  .describe('Environment: an allowlist; nothing else reaches the command.');

export const limitsSchema = z
  .strictObject({
    '//': comment,
    tmpSize: sizeSchema.optional().describe('Size of the private /tmp.'),
    memory: sizeSchema.optional().describe('Memory limit for the whole command tree.'),
    pids: z.number().int().positive().optional().describe('Maximum number of processes.'),
    cpuSeconds: z.number().positive().optional().describe('CPU time limit in seconds.'),
    maxFiles: z.number().int().positive().optional().describe('Maximum open files per process.'),
    timeout: z.number().positive().optional().describe('Wall-clock timeout in seconds.'),
    maxOutput: sizeSchema.optional().describe('Cap on captured stdout and stderr (each).'),
  })
  .describe('Resource limits.');

export const unsafeSchema = z
  .strictObject({
    '//': comment,
    allowMissingLandlock: z
      .boolean()
      .optional()
      .describe('Run even when the kernel has no Landlock (mount namespace only). Logged on every run.'),
    allowBroadWrite: z
      .boolean()
      .optional()
      .describe('Acknowledge a writable root that is /, a top-level system directory or your whole home.'),
    allowAnyHost: z
      .boolean()
      .optional()
      .describe('Acknowledge a network allow rule for any host (*, 0.0.0.0/0, ::/0).'),
    allowAllEnv: z.boolean().optional().describe('Acknowledge env.allow ["*"]: the whole caller environment, secrets included.'),
  })
  .describe('Explicit opt-ins to run with less protection. Each is logged.');

const secretSource = z.union([
  z
    .strictObject({
      '//': comment,
      fromEnv: z.string().regex(ENV_NAME, 'an environment variable name').describe("Variable in the caller's environment holding the value."),
      description: z.string().optional(),
    })
    .describe('A secret read from the caller\'s environment.'),
  z
    .strictObject({
      '//': comment,
      fromFile: z.string().min(1).describe('File holding the value (one trailing newline is dropped); a path like the filesystem rules.'),
      description: z.string().optional(),
    })
    .describe('A secret read from a file on the host.'),
]);

export const secretsSchema = z
  .record(z.string().regex(ENV_NAME, 'a secret name is the environment variable it is handed over as (A-Z, 0-9, _)'), secretSource)
  .describe(
    'Named secrets handed to every command as environment variables. Their values are redacted from captured output, the audit log and errors.',
  );

export const profileSchema = z
  .strictObject({
    $schema: z.string().optional(),
    '//': comment,
    version: z.literal(1).describe('Profile language version.'),
    description: z.string().optional().describe('What this profile is for.'),
    extends: z
      .union([z.string().min(1), z.array(z.string().min(1))])
      .optional()
      .describe('Profiles (names from profiles/ or paths) this one builds on; lists are merged, deny wins.'),
    filesystem: filesystemSchema.optional(),
    network: networkSchema.optional(),
    env: envSchema.optional(),
    limits: limitsSchema.optional(),
    secrets: secretsSchema.optional(),
    unsafe: unsafeSchema.optional(),
  })
  .describe('A cordon sandbox profile.');

export type ProfileDocument = z.infer<typeof profileSchema>;
export type SecretSource = z.infer<typeof secretSource>;

/** The JSON Schema of the profile language (profiles/schema.json is this, pretty-printed). */
export function profileJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(profileSchema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
  const { $schema, ...rest } = schema;
  return { $schema, title: 'cordon profile (version 1)', ...rest };
}
