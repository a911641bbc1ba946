// Alert webhook URLs. Many receivers (Slack, Teams, Discord, Google Chat, Telegram) put the credential in
// the URL itself, so a URL is a secret unless it visibly is not; only its origin is ever logged.

// Hosts whose webhook URLs carry the token in the path.
const TOKEN_IN_PATH_HOSTS = [
  /^hooks\.slack\.com$/,
  /^(?:[a-z0-9-]+\.)*discord(?:app)?\.com$/,
  /(?:^|\.)webhook\.office\.com$/,
  /^outlook\.office(?:365)?\.com$/,
  /^api\.telegram\.org$/,
  /^chat\.googleapis\.com$/,
];

// A long path segment mixing letters and digits reads like a generated token ("T0ABC/B0DEF/xq3…").
const TOKEN_LIKE_SEGMENT = /^(?=.*[A-Za-z])(?=.*\d)[A-Za-z0-9_.~-]{20,}$/;

// eslint-disable-next-line no-control-regex
const CONTROL_OR_SPACE = /[\u0000-\u0020\u007f]/;

/**
 * Why `url` cannot be an alert webhook, or undefined. Every URL must be http(s) with a host. A URL
 * written in the config (`literal`) must also show that it holds no credential: no user or password,
 * no query string or fragment, not a service known to put its token in the path, and no path segment
 * that looks like a token; those belong in webhookEnv or webhookFile. Messages never echo the URL.
 */
export function checkWebhookUrl(url: string, literal: boolean): string | undefined {
  if (CONTROL_OR_SPACE.test(url) || !URL.canParse(url)) return 'must be an http:// or https:// URL';
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'must be an http:// or https:// URL';
  if (u.hostname === '') return 'must name a host';
  if (!literal) return undefined;
  const move = 'put the URL in an environment variable or a file (webhookEnv or webhookFile)';
  if (u.username !== '' || u.password !== '') return `must not contain credentials: ${move}`;
  if (u.search !== '' || url.includes('?')) {
    return `must not have a query string (it may hold a token): ${move}`;
  }
  if (u.hash !== '' || url.includes('#')) return `must not have a #fragment: ${move}`;
  if (TOKEN_IN_PATH_HOSTS.some((host) => host.test(u.hostname.toLowerCase()))) {
    return `is a service that puts its token in the URL: ${move}`;
  }
  const segments = u.pathname.split('/').map(safeDecode);
  if (segments.some((s) => TOKEN_LIKE_SEGMENT.test(s))) {
    return `has a path segment that looks like a token: ${move}`;
  }
  return undefined;
}

/** What logs may say about a webhook: scheme, host and port only (never the path, query or user). */
export function webhookOrigin(url: string): string {
  if (!URL.canParse(url)) return '(invalid URL)';
  const u = new URL(url);
  return `${u.protocol}//${u.host}`;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
