// One delivery's ledger facts as views are made from them, for the formatting tests.
import type { DeliveryFacts } from '../../src/core/delivery-view.js';

/** A delivered delivery of acme's orders.csv, with `overrides`. */
export function deliveryFacts(overrides: Partial<DeliveryFacts> = {}): DeliveryFacts {
  return {
    deliveryId: 'dlv-acme-0123456789abcdef0123456789abcdef',
    partnerId: 'acme',
    bucket: 'exports',
    key: 'acme/orders.csv',
    etag: 'e1',
    status: 'delivered',
    remotePath: '/inbound/orders.csv',
    attempts: 1,
    createdAt: '2026-11-25T02:00:00.000Z',
    updatedAt: '2026-11-25T02:00:01.500Z',
    ...overrides,
  };
}
