// cordon – the starter profile `cordon profile init` writes, and the schema file generator.
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { profilesDir } from '../paths.js';
import { profileJsonSchema } from './schema.js';

/** profiles/schema.json as it should be: generated from the zod schema, pretty-printed. */
export function schemaText(): string {
  return JSON.stringify(profileJsonSchema(), null, 2) + '\n';
}

export function schemaFile(): string {
  return path.join(profilesDir(), 'schema.json');
}

export function writeSchemaFile(file: string = schemaFile()): void {
  writeFileSync(file, schemaText());
}

/** A commented starter: JSON has no comments, so the notes live in "//" keys, which every object accepts. */
export function starterProfile(schemaRef: string): string {
  const doc = {
    $schema: schemaRef,
    '//': [
      'A cordon profile. Keys named "//" are comments: cordon ignores them.',
      'Check it with `cordon profile check FILE`; see what it allows with `cordon profile explain FILE --path P --host H:PORT`.',
      'Secrets: add "secrets": {"NPM_TOKEN": {"fromEnv": "NPM_TOKEN"}} to hand a value to commands; it is redacted from output and logs.',
    ],
    version: 1,
    description: 'My project: builds and tests in the workspace, no network.',
    extends: 'workspace',
    filesystem: {
      '//': [
        'Paths: absolute, ~/…, or starting with ${workspace}, ${home}, ${tmp} or ${env:NAME}. Lists add to the parent profile.',
        'Deny wins over read, write and protected at the same or a deeper path; globs are allowed in deny only.',
      ],
      write: ['${home}/.cache'],
      protected: ['${workspace}/.github'],
      deny: ['${workspace}/**/*.pem', '${workspace}/secrets'],
    },
    network: {
      '//': 'mode: none (loopback only), allowlist (only the allow rules; deny rules win) or host (unpoliced).',
      mode: 'none',
      allow: [],
      deny: [],
    },
    env: {
      '//': 'The environment is an allowlist: PATH, HOME, LANG, TERM and the like, plus what you list here.',
      allow: ['NODE_ENV'],
      deny: ['AWS_*'],
      set: { CI: 'true' },
    },
    limits: {
      '//': 'Sizes like 512m or 2g; timeout in seconds.',
      timeout: 600,
      tmpSize: '1g',
    },
  };
  return JSON.stringify(doc, null, 2) + '\n';
}
