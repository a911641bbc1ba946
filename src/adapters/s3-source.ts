import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
  paginateListObjectsV2,
  type GetObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { classifyError } from '../core/classify-error.js';
import { FerryError } from '../errors.js';
import type { ObjectBody, ObjectSource, SourceObject } from '../core/ports.js';

/**
 * The S3 client every Ferry process uses. Credentials come from the standard AWS chain (env, SSO,
 * web identity, shared config, container/instance role), never from Ferry's config. SDK retries stay
 * short; BullMQ's job backoff handles longer outages.
 *
 * GetObject bodies are not checked against S3's stored CRC (`responseChecksumValidation:
 * 'WHEN_REQUIRED'`): the SDK would compute it in JavaScript, and for the CRC64NVME that S3 now stores
 * for new objects (or CRC32C) that costs 2.7–6 CPU-seconds per GiB on our 2-core reference machine,
 * as much as the rest of a delivery; TLS already protects the bytes in transit, and the delivery
 * checks the byte count against ContentLength and the partner's file size, and records its sha256.
 */
export function createS3Client(config: {
  region: string;
  endpoint?: string;
  forcePathStyle: boolean;
}): S3Client {
  return new S3Client({
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    maxAttempts: 3,
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(config.endpoint === undefined
      ? {}
      : {
          endpoint: config.endpoint,
          // S3-compatible stores (s3rver, older MinIO) predate the SDK's default CRC checksums.
          requestChecksumCalculation: 'WHEN_REQUIRED' as const,
        }),
  });
}

/** ObjectSource over an S3 client: paged listings, version-pinned reads, small writes. */
export function createS3Source(client: S3Client): ObjectSource {
  return {
    async *listPages(bucket, prefix, pageSize) {
      const pages = paginateListObjectsV2(
        { client, ...(pageSize === undefined ? {} : { pageSize }) },
        { Bucket: bucket, Prefix: prefix },
      );
      try {
        for await (const page of pages) {
          const objects: SourceObject[] = [];
          for (const item of page.Contents ?? []) {
            if (item.Key === undefined) continue;
            objects.push({
              bucket,
              key: item.Key,
              etag: stripQuotes(item.ETag ?? ''),
              size: item.Size ?? 0,
              lastModified: item.LastModified ?? new Date(0),
            });
          }
          if (objects.length > 0) yield objects;
        }
      } catch (err) {
        throw classifyError(err, 's3');
      }
    },

    async open(bucket, key, etag, signal): Promise<ObjectBody> {
      let response: GetObjectCommandOutput;
      try {
        // IfMatch pins the listed version: an overwritten object answers 412 instead of other bytes.
        response = await client.send(
          new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: `"${etag}"` }),
          signal === undefined ? {} : { abortSignal: signal },
        );
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        throw classifyError(err, 's3');
      }
      const body = response.Body;
      if (!(body instanceof Readable) || response.ContentLength === undefined) {
        // Never leave a body unread: it would hold its socket.
        if (body instanceof Readable) body.destroy();
        throw new FerryError('ERR_UNKNOWN', `GetObject for ${key} returned no streamable body or length`, {
          details: { bucket, key },
        });
      }
      return { stream: body, contentLength: response.ContentLength };
    },

    async put(bucket, key, body, contentType) {
      try {
        await client.send(putCommand(bucket, key, body, contentType));
      } catch (err) {
        throw classifyError(err, 's3');
      }
    },

    async putNew(bucket, key, body, contentType) {
      try {
        await client.send(putCommand(bucket, key, body, contentType, { IfNoneMatch: '*' }));
        return 'created';
      } catch (err) {
        const name = err instanceof Error ? err.name : undefined;
        if (name === 'PreconditionFailed' || name === 'ConditionalRequestConflict') return 'exists';
        throw classifyError(err, 's3');
      }
    },

    async getText(bucket, key) {
      try {
        const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return (await response.Body?.transformToString('utf8')) ?? '';
      } catch (err) {
        // Only a missing key means "absent"; a missing bucket is a configuration error, not an empty answer.
        if (err instanceof Error && err.name === 'NoSuchKey') return undefined;
        throw classifyError(err, 's3');
      }
    },

    async head(bucket, key) {
      try {
        const response = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return {
          bucket,
          key,
          etag: stripQuotes(response.ETag ?? ''),
          size: response.ContentLength ?? 0,
          lastModified: response.LastModified ?? new Date(0),
        };
      } catch (err) {
        // HeadObject has no body, so a missing key answers a bare 404 ("NotFound"), not NoSuchKey.
        if (err instanceof Error && (err.name === 'NotFound' || err.name === 'NoSuchKey')) return undefined;
        throw classifyError(err, 's3');
      }
    },

    async getTags(bucket, key) {
      try {
        const response = await client.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }));
        return (response.TagSet ?? []).map((t) => ({ Key: t.Key ?? '', Value: t.Value ?? '' }));
      } catch (err) {
        throw classifyError(err, 's3');
      }
    },

    async putTags(bucket, key, tags) {
      try {
        await client.send(
          new PutObjectTaggingCommand({ Bucket: bucket, Key: key, Tagging: { TagSet: [...tags] } }),
        );
      } catch (err) {
        throw classifyError(err, 's3');
      }
    },

    async copy(bucket, fromKey, toKey, etag) {
      try {
        await client.send(
          new CopyObjectCommand({
            Bucket: bucket,
            Key: toKey,
            CopySource: `${bucket}/${encodeURIComponent(fromKey).replace(/%2F/g, '/')}`,
            CopySourceIfMatch: `"${etag}"`,
          }),
        );
      } catch (err) {
        throw classifyError(err, 's3');
      }
    },

    async remove(bucket, key, etag) {
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, IfMatch: `"${etag}"` }));
      } catch (err) {
        throw classifyError(err, 's3');
      }
    },
  };
}

function stripQuotes(etag: string): string {
  return etag.replace(/^"(.*)"$/, '$1');
}

function putCommand(
  bucket: string,
  key: string,
  body: string | Buffer,
  contentType: string | undefined,
  condition: { IfNoneMatch?: string } = {},
): PutObjectCommand {
  return new PutObjectCommand({
    Bucket: bucket,
    Key: key,
    Body: body,
    ...condition,
    ...(contentType === undefined ? {} : { ContentType: contentType }),
  });
}
