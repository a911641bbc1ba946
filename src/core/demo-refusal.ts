// `ferry demo` runs only from a source checkout: it spawns s3rver (a devDependency, so absent from a
// production install such as the Docker image) beside the machine's redis-server and sshd.

/** The one line `ferry demo` exits 2 with where s3rver is not installed. */
export const DEMO_NEEDS_CHECKOUT =
  'ferry demo is a development command: run it from a source checkout (npm ci && npx ferry demo); it needs s3rver, redis-server and sshd';

/** Module-resolution codes meaning "not installed": require.resolve's and import()'s. */
const NOT_INSTALLED: readonly unknown[] = ['MODULE_NOT_FOUND', 'ERR_MODULE_NOT_FOUND'];

/**
 * Whether `ferry demo` may start, given the look-up of s3rver: undefined to go ahead, or the line to
 * refuse with when s3rver is not installed. Any other look-up error is rethrown: that is a broken
 * checkout, not a production install, and its own message says more.
 */
export function demoRefusal(s3rver: { found: true } | { found: false; error: unknown }): string | undefined {
  if (s3rver.found) return undefined;
  const code = (s3rver.error as { code?: unknown } | null)?.code;
  if (NOT_INSTALLED.includes(code)) return DEMO_NEEDS_CHECKOUT;
  throw s3rver.error;
}
