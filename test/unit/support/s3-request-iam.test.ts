// How the S3 recording proxy (test/support/s3-recording-proxy.ts) maps a path-style request to the IAM
// authorizations S3 checks for it.
import { describe, expect, it } from 'vitest';
import { classifyS3Request } from '../../support/s3-recording-proxy.js';

const request = (
  method: string,
  bucket: string | undefined,
  key: string | undefined,
  query: Record<string, string> = {},
  headers: Record<string, string> = {},
  status = 200,
) => classifyS3Request({ method, bucket, key, query, headers, status });

describe('classifyS3Request', () => {
  it('maps a listing to s3:ListBucket on the bucket with its prefix as s3:prefix ("" without one)', () => {
    expect(request('GET', 'exports', undefined, { 'list-type': '2', prefix: 'acme/' })).toEqual({
      operation: 'ListObjectsV2',
      iam: [{ action: 's3:ListBucket', resource: 'arn:aws:s3:::exports', context: { 's3:prefix': 'acme/' } }],
    });
    expect(request('GET', 'exports', undefined, { 'list-type': '2' }).iam[0]!.context).toEqual({
      's3:prefix': '',
    });
    expect(request('HEAD', 'exports', undefined)).toEqual({
      operation: 'HeadBucket',
      iam: [{ action: 's3:ListBucket', resource: 'arn:aws:s3:::exports' }],
    });
  });

  it('maps reads and writes of objects, and a missing key read to an implicit s3:ListBucket on the key', () => {
    expect(request('GET', 'b', 'p/k.csv', {}, { 'if-match': '"e"' })).toEqual({
      operation: 'GetObject',
      iam: [{ action: 's3:GetObject', resource: 'arn:aws:s3:::b/p/k.csv' }],
    });
    expect(request('HEAD', 'b', 'p/k.csv').iam).toEqual([
      { action: 's3:GetObject', resource: 'arn:aws:s3:::b/p/k.csv' },
    ]);
    expect(request('GET', 'b', 'r/x.json', {}, {}, 404).iam).toEqual([
      { action: 's3:GetObject', resource: 'arn:aws:s3:::b/r/x.json' },
      { action: 's3:ListBucket', resource: 'arn:aws:s3:::b', context: { 's3:prefix': 'r/x.json' } },
    ]);
    expect(request('PUT', 'b', 'r/x.json')).toEqual({
      operation: 'PutObject',
      iam: [{ action: 's3:PutObject', resource: 'arn:aws:s3:::b/r/x.json' }],
    });
    expect(request('DELETE', 'b', 'p/k.csv', {}, { 'if-match': '"e"' })).toEqual({
      operation: 'DeleteObject',
      iam: [{ action: 's3:DeleteObject', resource: 'arn:aws:s3:::b/p/k.csv' }],
    });
  });

  it('maps tagging to its own actions', () => {
    expect(request('GET', 'b', 'k', { tagging: '' }).iam).toEqual([
      { action: 's3:GetObjectTagging', resource: 'arn:aws:s3:::b/k' },
    ]);
    expect(request('PUT', 'b', 'k', { tagging: '' }).iam).toEqual([
      { action: 's3:PutObjectTagging', resource: 'arn:aws:s3:::b/k' },
    ]);
  });

  it('maps a copy to a read of the source and a write of the destination, with their tags unless replaced', () => {
    expect(
      request(
        'PUT',
        'b',
        'archive/p/k.csv',
        {},
        { 'x-amz-copy-source': 'b/p/k%20x.csv', 'x-amz-copy-source-if-match': '"e"' },
      ),
    ).toEqual({
      operation: 'CopyObject',
      iam: [
        { action: 's3:GetObject', resource: 'arn:aws:s3:::b/p/k x.csv' },
        { action: 's3:PutObject', resource: 'arn:aws:s3:::b/archive/p/k.csv' },
        { action: 's3:GetObjectTagging', resource: 'arn:aws:s3:::b/p/k x.csv' },
        { action: 's3:PutObjectTagging', resource: 'arn:aws:s3:::b/archive/p/k.csv' },
      ],
    });
    const replaced = request(
      'PUT',
      'b',
      'a/k',
      {},
      { 'x-amz-copy-source': '/b/k?versionId=1', 'x-amz-tagging-directive': 'REPLACE' },
    );
    expect(replaced.iam.map((r) => r.action)).toEqual(['s3:GetObject', 's3:PutObject']);
    expect(replaced.iam[0]!.resource).toBe('arn:aws:s3:::b/k');
  });

  it('maps multipart steps to s3:PutObject and leaves what it does not model Unknown, with no authorization', () => {
    expect(request('POST', 'b', 'k', { uploads: '' }).iam).toEqual([
      { action: 's3:PutObject', resource: 'arn:aws:s3:::b/k' },
    ]);
    expect(request('PUT', 'b', 'k', { uploadId: 'u', partNumber: '1' }).operation).toBe('UploadPart');
    expect(request('GET', 'b', 'k', { acl: '' })).toEqual({ operation: 'Unknown', iam: [] });
    expect(request('POST', 'b', undefined, { delete: '' }).iam).toEqual([]);
    expect(request('POST', 'b', 'k', { restore: '' })).toEqual({ operation: 'Unknown', iam: [] });
    expect(request('GET', 'b', undefined, { policy: '' })).toEqual({ operation: 'Unknown', iam: [] });
  });
});
