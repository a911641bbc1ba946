// Fault injection on a real S3Client, for what s3rver cannot do: answer If-Match with 412, throttle with
// 503 SlowDown, list keys no filesystem can hold, or send one request's body through a fault proxy.
// The middleware sits where the SDK hands a signed request to the wire (innermost in the deserialize
// step, inside the SDK's retry loop), so every SDK attempt passes through it and a synthetic reply is
// parsed exactly like a real one.
import type { S3Client, _Object } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';

/** One request as it was about to leave the client (each SDK retry is its own call). */
export interface S3Call {
  /** The SDK command name, e.g. "GetObjectCommand". */
  command: string;
  bucket?: string;
  key?: string;
  /** The If-Match header as sent (quoted ETag), if any. */
  ifMatch?: string;
  atMs: number;
}

/** An S3 error reply, rendered as S3's XML error document. */
export interface S3ErrorReply {
  status: number;
  code: string;
  message?: string;
}

/** What a rule does with a call it matches. */
export type S3FaultAction =
  /** Send it to s3rver as usual. */
  | 'pass'
  /** Answer with this error instead of sending it. */
  | S3ErrorReply
  /** Send it to 127.0.0.1:<port> (a fault proxy in front of s3rver) instead; the Host header and signature stay. */
  | { routeToPort: number };

export interface S3FaultRule {
  match(call: S3Call): boolean;
  /** Decides per call; may change the world first (e.g. overwrite the object) — it runs before the request leaves. */
  act(call: S3Call): S3FaultAction | Promise<S3FaultAction>;
  /** Applies to the first `times` matching calls, then passes (every matching call when omitted). */
  times?: number;
}

export interface InstalledS3Fault {
  /** Calls this rule has acted on so far. */
  readonly hits: number;
  /** Stops the rule; later calls pass. */
  remove(): void;
}

/** An object to add to listings (a key s3rver cannot store, e.g. one with a ".." segment or a NUL). */
export interface ListedExtra {
  key: string;
  size?: number;
  etag?: string;
  lastModified?: Date;
}

export interface S3Faults {
  /** Every call that reached the wire step, in order. */
  calls(): S3Call[];
  /** Adds a rule; the first installed rule that matches a call acts on it. */
  add(rule: S3FaultRule): InstalledS3Fault;
  /** Adds `objects` to the first page of every ListObjectsV2 of `bucket` whose prefix they fall under. */
  addToListings(bucket: string, objects: readonly ListedExtra[]): void;
  /** Removes every rule and listing addition. */
  clear(): void;
}

/** The S3 errors the fault tests need, as S3 sends them. */
export const S3_ERRORS = {
  preconditionFailed: {
    status: 412,
    code: 'PreconditionFailed',
    message: 'At least one of the pre-conditions you specified did not hold',
  },
  slowDown: { status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' },
} as const satisfies Record<string, S3ErrorReply>;

interface WireRequest {
  port?: number;
  headers: Record<string, string>;
}

interface LiveRule {
  rule: S3FaultRule;
  remaining: number;
  hits: number;
}

/** Installs fault injection on `client` (use a client of its own: the middleware stays for its lifetime). */
export function installS3Faults(client: S3Client): S3Faults {
  const calls: S3Call[] = [];
  let rules: LiveRule[] = [];
  let extras: { bucket: string; objects: readonly ListedExtra[] }[] = [];

  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = (args.input ?? {}) as { Bucket?: string; Key?: string };
      const request = args.request as WireRequest;
      const call: S3Call = {
        command: context.commandName ?? 'unknown',
        ...(input.Bucket === undefined ? {} : { bucket: input.Bucket }),
        ...(input.Key === undefined ? {} : { key: input.Key }),
        ...(request.headers['if-match'] === undefined ? {} : { ifMatch: request.headers['if-match'] }),
        atMs: Date.now(),
      };
      calls.push(call);
      const live = rules.find((r) => r.remaining > 0 && r.rule.match(call));
      if (live) {
        live.remaining -= 1;
        live.hits += 1;
        const action = await live.rule.act(call);
        if (action !== 'pass' && 'routeToPort' in action) {
          request.port = action.routeToPort;
        } else if (action !== 'pass') {
          return { response: errorResponse(action) };
        }
      }
      return next(args);
    },
    { step: 'deserialize', priority: 'low', name: 'ferryTestS3Faults' },
  );

  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const input = args.input as { Bucket?: string; Prefix?: string; ContinuationToken?: string };
      if (context.commandName !== 'ListObjectsV2Command' || input.ContinuationToken !== undefined) {
        return result;
      }
      const prefix = input.Prefix ?? '';
      const added: _Object[] = extras
        .filter((e) => e.bucket === input.Bucket)
        .flatMap((e) => e.objects)
        .filter((o) => o.key.startsWith(prefix))
        .map((o) => ({
          Key: o.key,
          Size: o.size ?? 10,
          ETag: `"${o.etag ?? 'a'.repeat(32)}"`,
          LastModified: o.lastModified ?? new Date(Date.now() - 3_600_000),
          StorageClass: 'STANDARD',
        }));
      if (added.length === 0) return result;
      const output = result.output as { Contents?: _Object[]; KeyCount?: number };
      output.Contents = [...(output.Contents ?? []), ...added];
      output.KeyCount = output.Contents.length;
      return result;
    },
    { step: 'initialize', priority: 'high', name: 'ferryTestListingExtras' },
  );

  return {
    calls: () => [...calls],
    add(rule) {
      const live: LiveRule = { rule, remaining: rule.times ?? Infinity, hits: 0 };
      rules.push(live);
      return {
        get hits() {
          return live.hits;
        },
        remove() {
          rules = rules.filter((r) => r !== live);
        },
      };
    },
    addToListings(bucket, objects) {
      extras.push({ bucket, objects });
    },
    clear() {
      rules = [];
      extras = [];
    },
  };
}

function errorResponse(reply: S3ErrorReply) {
  const xml =
    '<?xml version="1.0" encoding="UTF-8"?>' +
    `<Error><Code>${reply.code}</Code><Message>${reply.message ?? reply.code}</Message>` +
    '<RequestId>ferry-test-fault</RequestId></Error>';
  return {
    statusCode: reply.status,
    reason: reply.code,
    headers: { 'content-type': 'application/xml', 'x-amz-request-id': 'ferry-test-fault' },
    body: Readable.from([Buffer.from(xml)]),
  };
}
