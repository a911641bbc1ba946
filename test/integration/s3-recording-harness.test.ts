// The recording S3 proxy as the whole integration suite can use it: with FERRY_S3_RECORD_FILE set,
// startServices puts the proxy in front of s3rver, writeFerryConfig points Ferry's config at it, and
// every request it forwards (signed by the client, answered by s3rver unchanged) is appended to the file
// with the IAM authorizations it needs.
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFerryConfig } from '../support/ferry-fixture.js';
import type { S3RequestRecord } from '../support/s3-recording-proxy.js';
import { s3ClientFor, startServices, type Services } from '../support/services.js';
import { makeTempDir } from '../support/temp-dir.js';

let services: Services;
let recordFile: string;

beforeAll(async () => {
  recordFile = join(await makeTempDir('s3-records'), 'records.jsonl');
  const saved = process.env['FERRY_S3_RECORD_FILE'];
  process.env['FERRY_S3_RECORD_FILE'] = recordFile;
  try {
    services = await startServices({ buckets: ['exports'] });
  } finally {
    if (saved === undefined) delete process.env['FERRY_S3_RECORD_FILE'];
    else process.env['FERRY_S3_RECORD_FILE'] = saved;
  }
});

afterAll(async () => {
  await services?.stop();
});

describe('FERRY_S3_RECORD_FILE', () => {
  it("points Ferry's config at the recording proxy and appends each forwarded request with its IAM needs", async () => {
    const recorder = services.s3Recorder!;
    expect(recorder.endpoint).not.toBe(services.s3.endpoint);
    const fixture = await writeFerryConfig(services, { partners: [] });
    expect(await readFile(join(fixture.dir, 'ferry.yaml'), 'utf8')).toContain(
      `endpoint: "${recorder.endpoint}"`,
    );

    const client = s3ClientFor({ ...services.s3, endpoint: recorder.endpoint });
    await client.send(new PutObjectCommand({ Bucket: 'exports', Key: 'a/b c.csv', Body: 'x,y\n' }));
    const listed = await client.send(new ListObjectsV2Command({ Bucket: 'exports', Prefix: 'a/' }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual(['a/b c.csv']);
    await expect(
      client.send(new GetObjectCommand({ Bucket: 'exports', Key: 'a/none' })),
    ).rejects.toMatchObject({
      name: 'NoSuchKey',
    });
    client.destroy();

    const lines = (await readFile(recordFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as S3RequestRecord);
    expect(lines).toEqual(recorder.records());
    expect(lines.map(({ operation, status, iam }) => ({ operation, status, iam }))).toEqual([
      {
        operation: 'PutObject',
        status: 200,
        iam: [{ action: 's3:PutObject', resource: 'arn:aws:s3:::exports/a/b c.csv' }],
      },
      {
        operation: 'ListObjectsV2',
        status: 200,
        iam: [{ action: 's3:ListBucket', resource: 'arn:aws:s3:::exports', context: { 's3:prefix': 'a/' } }],
      },
      {
        operation: 'GetObject',
        status: 404,
        iam: [
          { action: 's3:GetObject', resource: 'arn:aws:s3:::exports/a/none' },
          { action: 's3:ListBucket', resource: 'arn:aws:s3:::exports', context: { 's3:prefix': 'a/none' } },
        ],
      },
    ]);
    expect(lines[1]!.query).toMatchObject({ 'list-type': '2', prefix: 'a/' });
  });
});
