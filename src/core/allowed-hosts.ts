// Which Host headers the web role answers: the DNS-rebinding defence. A page on a name its author
// controls (rebind.evil.example) can re-resolve that name to Ferry's address; the browser then sends
// the attacker's name in Host and Origin alike and treats every answer as the attacker's own origin,
// so a same-origin check that compares Origin with Host passes. Answering only names the operator
// configured closes that. Applied by src/http/create-app.ts to every route but the probes.

/** What decides the allowed names: ferry.yaml `http.trustedOrigins` and `http.host`. */
export interface HostPolicy {
  /** The dashboard's public origins (`https://ferry.example.com`): their host names are allowed. */
  trustedOrigins: readonly string[];
  /** The listen address (`http.host`): allowed by name when it is one. */
  listenHost: string;
}

export type HostVerdict = { ok: true } | { ok: false; hostname: string | undefined; message: string };

// Characters that make a Host header more than host[:port] (a path, credentials, a query).
const NOT_A_HOST = /[\s/\\?#@]/;
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/**
 * Builds the check for one config. Allowed: the host names of `trustedOrigins`, the listen host,
 * `localhost`, and any IP address literal. A rebinding page is always on a name (an IP cannot
 * re-resolve), and a browser puts an IP or `localhost` in Host only when its URL holds one, so those
 * need no configuration: `http://127.0.0.1:3000` reaches a container listening on 0.0.0.0, and the
 * port a container publishes need not be the one Ferry listens on. Ports are not compared for the
 * same reason: the name is what an attacker controls, not the port.
 */
export function createHostCheck(policy: HostPolicy): (hostHeader: string | undefined) => HostVerdict {
  const names = new Set<string>(['localhost']);
  for (const origin of policy.trustedOrigins) {
    if (URL.canParse(origin)) names.add(new URL(origin).hostname);
  }
  const listen = hostnameOf(policy.listenHost);
  if (listen !== undefined) names.add(listen);

  return (hostHeader) => {
    const hostname = hostnameOf(hostHeader);
    if (hostname === undefined) {
      return { ok: false, hostname, message: 'the request has no valid Host header' };
    }
    if (names.has(hostname) || isIpLiteral(hostname)) return { ok: true };
    return {
      ok: false,
      hostname,
      message:
        `this Ferry does not answer to the host name ${hostname} (DNS-rebinding protection); ` +
        `if that is the dashboard's own name, add its origin (e.g. https://${hostname}) to http.trustedOrigins`,
    };
  };
}

/** The lower-case host name of a `host[:port]` text as a URL would parse it; undefined when it is none. */
function hostnameOf(text: string | undefined): string | undefined {
  if (text === undefined || text === '' || NOT_A_HOST.test(text)) return undefined;
  // http.host may be a bare IPv6 address ("::1"); a Host header brackets it.
  const bracketed =
    text.includes(':') && text.indexOf(':') !== text.lastIndexOf(':') && !text.startsWith('[');
  const authority = bracketed ? `[${text}]` : text;
  if (!URL.canParse(`http://${authority}`)) return undefined;
  const hostname = new URL(`http://${authority}`).hostname;
  return hostname === '' ? undefined : hostname;
}

/** The URL parser turns every numeric-looking name into a dotted quad (or refuses it), and brackets IPv6. */
function isIpLiteral(hostname: string): boolean {
  return hostname.startsWith('[') || IPV4.test(hostname);
}
