// The test-support IAM evaluator (test/support/iam-evaluator.ts) that the IAM coverage integration test
// judges the generated policy with: AWS's deny/allow order, wildcards and literal escapes, conditions
// on s3:prefix, and the grants no request used.
import { describe, expect, it } from 'vitest';
import {
  evaluateIam,
  unusedGrants,
  wildcardMatch,
  type PolicyDocument,
} from '../../support/iam-evaluator.js';

const policy: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'List',
      Effect: 'Allow',
      Action: 's3:ListBucket',
      Resource: 'arn:aws:s3:::exports',
      Condition: { StringLike: { 's3:prefix': ['acme/*', 'globex/*'] } },
    },
    {
      Sid: 'Read',
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:Get*Tagging'],
      Resource: 'arn:aws:s3:::exports/acme/*',
    },
    {
      Sid: 'Exact',
      Effect: 'Allow',
      Action: 's3:ListBucket',
      Resource: 'arn:aws:s3:::audit',
      Condition: { StringEquals: { 's3:prefix': 'receipts/' } },
    },
    { Sid: 'NoSecrets', Effect: 'Deny', Action: 's3:*', Resource: 'arn:aws:s3:::exports/acme/secret/*' },
  ],
};

describe('evaluateIam', () => {
  it('allows a request an Allow statement matches, naming the statement and the parts it matched through', () => {
    expect(
      evaluateIam(policy, { action: 's3:GetObject', resource: 'arn:aws:s3:::exports/acme/a.csv' }),
    ).toEqual({
      allowed: true,
      allowedBy: [
        {
          index: 1,
          sid: 'Read',
          actions: ['s3:GetObject'],
          resources: ['arn:aws:s3:::exports/acme/*'],
          conditionValues: {},
        },
      ],
    });
  });

  it('denies implicitly what no statement allows: another prefix, another action', () => {
    expect(
      evaluateIam(policy, { action: 's3:GetObject', resource: 'arn:aws:s3:::exports/globex/a.csv' }),
    ).toEqual({
      allowed: false,
      reason: 'implicit-deny',
    });
    expect(
      evaluateIam(policy, { action: 's3:PutObject', resource: 'arn:aws:s3:::exports/acme/a.csv' }).allowed,
    ).toBe(false);
  });

  it('lets an explicit Deny win over an Allow', () => {
    const decision = evaluateIam(policy, {
      action: 's3:GetObject',
      resource: 'arn:aws:s3:::exports/acme/secret/k',
    });
    expect(decision).toMatchObject({
      allowed: false,
      reason: 'explicit-deny',
      deniedBy: [{ sid: 'NoSecrets' }],
    });
  });

  it('matches actions case-insensitively with wildcards, resources case-sensitively', () => {
    expect(
      evaluateIam(policy, { action: 'S3:GETOBJECTTAGGING', resource: 'arn:aws:s3:::exports/acme/a' }).allowed,
    ).toBe(true);
    expect(
      evaluateIam(policy, { action: 's3:GetObject', resource: 'arn:aws:s3:::exports/ACME/a' }).allowed,
    ).toBe(false);
  });

  it('checks s3:prefix with StringLike wildcards and StringEquals exactly, and fails a condition whose key is absent', () => {
    const list = (bucket: string, prefix?: string) =>
      evaluateIam(policy, {
        action: 's3:ListBucket',
        resource: `arn:aws:s3:::${bucket}`,
        ...(prefix === undefined ? {} : { context: { 's3:prefix': prefix } }),
      });
    expect(list('exports', 'acme/')).toMatchObject({
      allowed: true,
      allowedBy: [{ conditionValues: { 'StringLike s3:prefix': ['acme/*'] } }],
    });
    expect(list('exports', 'globex/2026/')).toMatchObject({ allowed: true });
    expect(list('exports', '')).toMatchObject({ allowed: false });
    expect(list('exports', 'initech/')).toMatchObject({ allowed: false });
    expect(list('exports')).toMatchObject({ allowed: false });
    expect(list('audit', 'receipts/')).toMatchObject({ allowed: true });
    expect(list('audit', 'receipts/acme/')).toMatchObject({ allowed: false });
  });

  it('throws on policy features it does not model rather than ignoring them', () => {
    const odd = {
      Statement: [{ Effect: 'Allow', NotAction: 's3:*', Resource: '*' }],
    } as unknown as PolicyDocument;
    expect(() => evaluateIam(odd, { action: 's3:GetObject', resource: 'arn:aws:s3:::b/k' })).toThrow(
      /NotAction/,
    );
    const ifExists = {
      Statement: [
        {
          Effect: 'Allow',
          Action: 's3:ListBucket',
          Resource: '*',
          Condition: { StringLikeIfExists: { 's3:prefix': 'a' } },
        },
      ],
    } as unknown as PolicyDocument;
    expect(() => evaluateIam(ifExists, { action: 's3:ListBucket', resource: 'arn:aws:s3:::b' })).toThrow(
      /StringLikeIfExists/,
    );
  });
});

describe('wildcardMatch', () => {
  it('reads * and ? as wildcards and ${*} ${?} ${$} as the literal characters', () => {
    expect(wildcardMatch('a/*', 'a/')).toBe(true);
    expect(wildcardMatch('a/*', 'a/b/c.csv')).toBe(true);
    expect(wildcardMatch('a/?.csv', 'a/b.csv')).toBe(true);
    expect(wildcardMatch('a/?.csv', 'a/bc.csv')).toBe(false);
    expect(wildcardMatch('we${*}ird${?}/${$}x/*', 'we*ird?/$x/f')).toBe(true);
    expect(wildcardMatch('we${*}ird/*', 'weXird/f')).toBe(false);
    expect(wildcardMatch('a.b', 'aXb')).toBe(false);
  });
});

describe('unusedGrants', () => {
  it('lists every Allow action, resource and condition value that no allowed request matched through', () => {
    const decisions = [
      evaluateIam(policy, { action: 's3:GetObject', resource: 'arn:aws:s3:::exports/acme/a.csv' }),
      evaluateIam(policy, {
        action: 's3:ListBucket',
        resource: 'arn:aws:s3:::exports',
        context: { 's3:prefix': 'acme/' },
      }),
      evaluateIam(policy, { action: 's3:PutObject', resource: 'arn:aws:s3:::exports/acme/a.csv' }),
    ];
    expect(unusedGrants(policy, decisions)).toEqual([
      'List: condition StringLike s3:prefix globex/*',
      'Read: action s3:Get*Tagging',
      'Exact: action s3:ListBucket',
      'Exact: resource arn:aws:s3:::audit',
      'Exact: condition StringEquals s3:prefix receipts/',
    ]);
  });
});
