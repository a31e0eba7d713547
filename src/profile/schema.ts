// cordon – the profile language (version 1) as a zod schema: the single source of truth for validation and profiles/schema.json.
import { z } from 'zod';

const pathList = z
  .array(z.string().min(1, 'a path may not be empty'))
  .describe('Paths: absolute, `~/…`, or starting with a variable such as ${workspace}, ${home}, ${tmp}, ${env:NAME}.');

/** A size such as 512m, 1g, 65536 (bytes). */
export const sizeSchema = z
  .union([z.number().int().positive(), z.string().regex(/^\d+(\.\d+)?\s*([kmgt]i?b?|b)?$/i, 'a size like 512m, 2g or 65536')])
  .describe('A size in bytes, or a number with a k/m/g/t suffix (binary units).');

export const filesystemSchema = z
  .strictObject({
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
    mode: z
      .enum(['none', 'allowlist', 'host'])
      .optional()
      .describe('none: loopback only (default). allowlist: only the allow rules. host: the host network, unpoliced.'),
    allow: z.array(z.string().min(1)).optional().describe('HOST[:PORTS] rules: example.com, *.example.com, 10.0.0.0/8, [::1]:443, host:8000-8100.'),
    deny: z.array(z.string().min(1)).optional().describe('HOST[:PORTS] rules that win over allow.'),
    allowPrivate: z.boolean().optional().describe('Let hostname rules reach private, loopback and link-local addresses.'),
    hosts: z
      .record(z.string(), z.array(z.string()))
      .optional()
      .describe('Names cordon resolves itself (tests, pinning): {"api.internal": ["127.0.0.1"]}.'),
  })
  .describe('Network rules.');

export const envSchema = z
  .strictObject({
    allow: z.array(z.string().min(1)).optional().describe('Variable names passed from the caller; NAME or PREFIX_*.'),
    deny: z.array(z.string().min(1)).optional().describe('Variable names never passed (wins over allow).'),
    set: z.record(z.string(), z.string()).optional().describe('Variables set to fixed values.'),
  })
  .describe('Environment: an allowlist; nothing else reaches the command.');

export const limitsSchema = z
  .strictObject({
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
    allowMissingLandlock: z
      .boolean()
      .optional()
      .describe('Run even when the kernel has no Landlock (mount namespace only). Logged on every run.'),
  })
  .describe('Explicit opt-ins to run with less protection. Each is logged.');

export const profileSchema = z
  .strictObject({
    $schema: z.string().optional(),
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
    unsafe: unsafeSchema.optional(),
  })
  .describe('A cordon sandbox profile.');

export type ProfileDocument = z.infer<typeof profileSchema>;
