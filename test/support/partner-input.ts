// A minimal valid partner as YAML would give it, for tests that parse partnerSchema directly.
import { partnerSchema } from '../../src/config/schema.js';

export const FINGERPRINT = 'SHA256:BXfYDQo9GigRWVMVtCXKJBG9z5LXQiav4rZLeMQ6Tt4';

/** A minimal valid partner as YAML would give it, with overrides per section. */
export function partnerInput(
  overrides: { target?: Record<string, unknown>; retry?: Record<string, unknown> } = {},
) {
  return {
    id: 'acme',
    schedule: { cron: '0 2 * * *' },
    source: { bucket: 'warehouse-exports', prefix: 'acme/' },
    target: {
      host: 'sftp.acme.example',
      username: 'ferry',
      hostKeys: [FINGERPRINT],
      auth: { privateKeyFile: '/run/secrets/acme' },
      directory: '/inbound',
      ...overrides.target,
    },
    ...(overrides.retry ? { retry: overrides.retry } : {}),
  };
}

/** The messages of a failed parse of `schema`, as `path: message` (none when it parses). */
export function issuesOf(
  schema: { safeParse(input: unknown): { success: boolean; error?: { issues: readonly Issue[] } } },
  input: unknown,
): string[] {
  const result = schema.safeParse(input);
  return result.success ? [] : (result.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);
}

interface Issue {
  path: readonly PropertyKey[];
  message: string;
}

/** The messages of a failed partner parse, as `path: message`. */
export function messagesOf(input: unknown): string[] {
  return issuesOf(partnerSchema, input);
}

/**
 * The first six lines of a minimal valid partner file, as YAML text: a section under test appended to
 * it starts on line 7, so problems are asserted at their file:line:col.
 */
export function partnerYamlHead(schedule: { timezone?: string } = {}): string {
  const timezone = schedule.timezone === undefined ? '' : `, timezone: ${schedule.timezone}`;
  return `id: acme
schedule: { cron: '0 * * * *'${timezone} }
target: { host: sftp.acme.example, username: ferry, directory: /in,
  hostKeys: ['${FINGERPRINT}'],
  auth: { privateKeyFile: /run/secrets/acme } }
source: { bucket: warehouse-exports, prefix: acme/ }
`;
}
