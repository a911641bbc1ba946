// A recording HTTP reverse proxy for S3 (path-style requests), on a free loopback port in front of
// s3rver. s3rver enforces no IAM, so a test that wants to know whether a policy would let Ferry work
// records every request here, maps it to the IAM authorizations S3 would check (classifyS3Request) and
// evaluates those against the policy (iam-evaluator.ts).
import { appendFileSync } from 'node:fs';
import { Agent, createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IamRequest } from './iam-evaluator.js';

/** One S3 request as the proxy saw it, with the IAM authorizations it needs. */
export interface S3RequestRecord {
  method: string;
  bucket: string | undefined;
  key: string | undefined;
  /** The query parameters that select the operation or scope it (list-type, prefix, tagging, uploads, …). */
  query: Record<string, string>;
  /** The headers that change what is authorized (copy source, tagging directive, conditional headers). */
  headers: Record<string, string>;
  /** The HTTP status s3rver answered. */
  status: number;
  operation: string;
  iam: IamRequest[];
}

export interface S3RecordingProxy {
  endpoint: string;
  port: number;
  /** Every request answered so far, in the order answers started. */
  records(): readonly S3RequestRecord[];
  close(): Promise<void>;
}

// The SDK's operation hint and paging/format parameters: they change neither the action nor its scope.
const NEUTRAL_QUERY: readonly string[] = ['x-id', 'continuation-token', 'encoding-type', 'fetch-owner'];
const RECORDED_HEADERS = [
  'x-amz-copy-source',
  'x-amz-copy-source-if-match',
  'x-amz-copy-source-if-none-match',
  'x-amz-tagging',
  'x-amz-tagging-directive',
  'x-amz-metadata-directive',
  'x-amz-acl',
  'if-match',
  'if-none-match',
];

export interface S3RecordingProxyOptions {
  /** Also append each record to this file, one JSON line each (for a whole-suite run). */
  recordFile?: string;
}

/** Forwards 127.0.0.1:<free port> to `target` (e.g. s3rver's endpoint), recording every request. */
export async function startS3RecordingProxy(
  target: string,
  options: S3RecordingProxyOptions = {},
): Promise<S3RecordingProxy> {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true });
  const records: S3RequestRecord[] = [];
  const server: Server = createServer((req, res) => {
    // Headers pass unchanged, Host included: the client signed them, and s3rver checks the signature.
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      (answer) => {
        const record = recordOf(req.method ?? 'GET', req.url ?? '/', req.headers, answer.statusCode ?? 0);
        records.push(record);
        if (options.recordFile !== undefined) {
          appendFileSync(options.recordFile, `${JSON.stringify(record)}\n`);
        }
        res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
        answer.pipe(res);
      },
    );
    forward.once('error', (err) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(String(err));
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    records: () => records,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

function recordOf(
  method: string,
  url: string,
  headers: IncomingHttpHeaders,
  status: number,
): S3RequestRecord {
  const parsed = new URL(url, 'http://s3.invalid');
  const [bucketPart, ...keyParts] = parsed.pathname.slice(1).split('/');
  const bucket = bucketPart ? decodeURIComponent(bucketPart) : undefined;
  const key =
    keyParts.length > 0 && keyParts.join('/') !== '' ? decodeURIComponent(keyParts.join('/')) : undefined;
  // Every parameter but the few that only page or format an answer: one this file does not know (a
  // subresource such as ?restore) then makes the request Unknown instead of passing for a GetObject.
  const query: Record<string, string> = {};
  for (const [name, value] of parsed.searchParams) {
    if (!NEUTRAL_QUERY.includes(name)) query[name] = value;
  }
  const kept: Record<string, string> = {};
  for (const name of RECORDED_HEADERS) {
    const value = headers[name];
    if (typeof value === 'string') kept[name] = value;
  }
  return {
    method,
    bucket,
    key,
    query,
    headers: kept,
    status,
    ...classifyS3Request({ method, bucket, key, query, headers: kept, status }),
  };
}

/**
 * The S3 operation of a path-style request and the IAM authorizations S3 checks for it
 * (AWS "Required permissions for Amazon S3 API operations"):
 * - ListObjects(V2) → s3:ListBucket on the bucket with `s3:prefix` (the request's prefix, "" when none);
 *   HeadBucket → s3:ListBucket (no prefix); GetObject and HeadObject → s3:GetObject;
 * - PutObject → s3:PutObject (+ s3:PutObjectTagging when it sets tags with `x-amz-tagging`);
 * - CopyObject → s3:GetObject on the source and s3:PutObject on the destination, and, unless the tagging
 *   directive is REPLACE, s3:GetObjectTagging on the source + s3:PutObjectTagging on the destination
 *   (the copy carries the tags along);
 * - Get/PutObjectTagging, DeleteObject, multipart steps: their own actions.
 * - A GetObject or HeadObject answered 404 also needs s3:ListBucket, else S3 answers 403 for a missing
 *   key; modelled with the key as `s3:prefix`, as the generated policy assumes.
 * An unknown combination is `Unknown` with no authorization, so a test can insist there is none.
 */
export function classifyS3Request(r: {
  method: string;
  bucket: string | undefined;
  key: string | undefined;
  query: Record<string, string>;
  headers: Record<string, string>;
  status: number;
}): { operation: string; iam: IamRequest[] } {
  const { method, bucket, key, query, headers } = r;
  if (bucket === undefined) {
    return {
      operation: method === 'GET' ? 'ListBuckets' : 'Unknown',
      iam: method === 'GET' ? [{ action: 's3:ListAllMyBuckets', resource: '*' }] : [],
    };
  }
  const bucketArn = `arn:aws:s3:::${bucket}`;
  const has = (name: string) => name in query;
  const one = (
    operation: string,
    action: string,
    resource = bucketArn,
  ): { operation: string; iam: IamRequest[] } => ({
    operation,
    iam: [{ action, resource }],
  });
  if (key === undefined) {
    if (method === 'HEAD') return one('HeadBucket', 's3:ListBucket');
    if (method === 'GET' && has('uploads')) {
      return one('ListMultipartUploads', 's3:ListBucketMultipartUploads');
    }
    if (method === 'GET' && has('versions')) return one('ListObjectVersions', 's3:ListBucketVersions');
    if (method === 'GET' && has('location')) return one('GetBucketLocation', 's3:GetBucketLocation');
    if (
      method === 'GET' &&
      Object.keys(query).every((q) =>
        ['list-type', 'prefix', 'delimiter', 'max-keys', 'start-after', 'marker'].includes(q),
      )
    ) {
      return {
        operation: query['list-type'] === '2' ? 'ListObjectsV2' : 'ListObjects',
        iam: [
          { action: 's3:ListBucket', resource: bucketArn, context: { 's3:prefix': query['prefix'] ?? '' } },
        ],
      };
    }
    if (method === 'POST' && has('delete')) return { operation: 'DeleteObjects', iam: [] }; // keys are in the body: Unknown to us
    return { operation: 'Unknown', iam: [] };
  }
  const objectArn = `${bucketArn}/${key}`;
  if (has('tagging')) {
    if (method === 'GET') return one('GetObjectTagging', 's3:GetObjectTagging', objectArn);
    if (method === 'PUT') return one('PutObjectTagging', 's3:PutObjectTagging', objectArn);
    if (method === 'DELETE') return one('DeleteObjectTagging', 's3:DeleteObjectTagging', objectArn);
    return { operation: 'Unknown', iam: [] };
  }
  if (has('acl') || has('attributes') || has('retention') || has('legal-hold') || has('versionId')) {
    return { operation: 'Unknown', iam: [] }; // Ferry uses none of these; a test insists on that
  }
  if (has('uploads') && method === 'POST') return one('CreateMultipartUpload', 's3:PutObject', objectArn);
  if (has('uploadId')) {
    if (method === 'PUT' && headers['x-amz-copy-source'] === undefined) {
      return one('UploadPart', 's3:PutObject', objectArn);
    }
    if (method === 'POST') return one('CompleteMultipartUpload', 's3:PutObject', objectArn);
    if (method === 'DELETE') return one('AbortMultipartUpload', 's3:AbortMultipartUpload', objectArn);
    if (method === 'GET') return one('ListParts', 's3:ListMultipartUploadParts', objectArn);
    return { operation: 'Unknown', iam: [] };
  }
  if (Object.keys(query).length > 0) return { operation: 'Unknown', iam: [] };
  const missing =
    r.status === 404 ? [{ action: 's3:ListBucket', resource: bucketArn, context: { 's3:prefix': key } }] : [];
  switch (method) {
    case 'GET':
      return { operation: 'GetObject', iam: [{ action: 's3:GetObject', resource: objectArn }, ...missing] };
    case 'HEAD':
      return { operation: 'HeadObject', iam: [{ action: 's3:GetObject', resource: objectArn }, ...missing] };
    case 'DELETE':
      return one('DeleteObject', 's3:DeleteObject', objectArn);
    case 'PUT': {
      const source = headers['x-amz-copy-source'];
      if (source === undefined) {
        const tags =
          headers['x-amz-tagging'] === undefined
            ? []
            : [{ action: 's3:PutObjectTagging', resource: objectArn }];
        return { operation: 'PutObject', iam: [{ action: 's3:PutObject', resource: objectArn }, ...tags] };
      }
      // x-amz-copy-source is "bucket/key" (URL-encoded), optionally with a leading "/" and "?versionId=".
      const [path] = source.replace(/^\//, '').split('?');
      const sourceArn = `arn:aws:s3:::${decodeURIComponent(path!)}`;
      const copiesTags = (headers['x-amz-tagging-directive'] ?? 'COPY').toUpperCase() !== 'REPLACE';
      return {
        operation: 'CopyObject',
        iam: [
          { action: 's3:GetObject', resource: sourceArn },
          { action: 's3:PutObject', resource: objectArn },
          ...(copiesTags
            ? [
                { action: 's3:GetObjectTagging', resource: sourceArn },
                { action: 's3:PutObjectTagging', resource: objectArn },
              ]
            : []),
        ],
      };
    }
    default:
      return { operation: 'Unknown', iam: [] };
  }
}
