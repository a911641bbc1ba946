import { describe, expect, it } from 'vitest';
import { isSettled, receiptMayExist } from '../../../src/ledger/delivery-record.js';

describe('receiptMayExist', () => {
  it('is false without a record: receipts follow a recorded publish intent', () => {
    expect(receiptMayExist(undefined)).toBe(false);
  });

  it('is true once a publish intent was recorded, whatever happened after', () => {
    expect(receiptMayExist({ status: 'publishing', remotePath: '/in/a.csv' })).toBe(true);
    expect(receiptMayExist({ status: 'publishing' })).toBe(true);
    expect(receiptMayExist({ status: 'delivered' })).toBe(true);
    // A failed-for-good record keeps the intent's fields (rename mode: sha256; direct mode: remotePath).
    expect(receiptMayExist({ status: 'failed', sha256: 'ab'.repeat(32) })).toBe(true);
    expect(receiptMayExist({ status: 'failed', remotePath: '/in/a.csv' })).toBe(true);
  });

  it('is false for records that never reached publishing', () => {
    expect(receiptMayExist({ status: 'failed' })).toBe(false);
    expect(receiptMayExist({ status: 'quarantined' })).toBe(false);
    expect(receiptMayExist({ status: 'skipped' })).toBe(false);
  });
});

describe('isSettled', () => {
  it('settles delivered and quarantined, and skips whose reason still holds', () => {
    expect(isSettled({ status: 'delivered' })).toBe(true);
    expect(isSettled({ status: 'quarantined' })).toBe(true);
    expect(isSettled({ status: 'skipped', reason: 'remote-exists' })).toBe(true);
  });

  it('does not settle a skip of one read (source gone or changed), failures or intents', () => {
    expect(isSettled({ status: 'skipped', reason: 'ERR_SOURCE_GONE' })).toBe(false);
    expect(isSettled({ status: 'skipped', reason: 'ERR_SOURCE_CHANGED' })).toBe(false);
    expect(isSettled({ status: 'failed' })).toBe(false);
    expect(isSettled({ status: 'publishing' })).toBe(false);
  });
});
