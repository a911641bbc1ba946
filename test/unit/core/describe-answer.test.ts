// A partner's answer as `ferry deliveries show`, its table and the web UI show it (one implementation).
import { describe, expect, it } from 'vitest';
import { deliveryFacts } from '../../support/delivery-facts.js';
import { ackFilterOf, ACK_FILTER_NAMES } from '../../../src/core/ack-filter.js';
import { toDeliveryView, type DeliveryFacts } from '../../../src/core/delivery-view.js';
import {
  describeAnswer,
  formatDeliveryDetail,
  formatDeliveryTable,
  type DeliveryDetailFacts,
} from '../../../src/core/format-deliveries.js';

const ID = `dlv-acme-${'a'.repeat(32)}`;
const AT = '2026-11-25T03:10:00.000Z';

const facts = (overrides: Partial<DeliveryFacts> = {}): DeliveryFacts =>
  deliveryFacts({ deliveryId: ID, ...overrides });

describe('ack filters', () => {
  it('name the ack values people filter on; unanswered is pending', () => {
    expect(ACK_FILTER_NAMES).toEqual(['acknowledged', 'rejected', 'overdue', 'unanswered']);
    expect(ackFilterOf('unanswered')).toBe('pending');
    expect(ackFilterOf('rejected')).toBe('rejected');
    expect(ackFilterOf('pending')).toBeUndefined();
    expect(ackFilterOf('delivered')).toBeUndefined();
    expect(ackFilterOf('toString')).toBeUndefined();
  });
});

describe('describeAnswer', () => {
  it('says nothing for a partner without answers', () => {
    expect(describeAnswer({})).toEqual([]);
  });

  it('words each answer, a reason of several lines on the lines after', () => {
    expect(describeAnswer({ ack: 'pending' })).toEqual(["unanswered: waiting for the partner's answer"]);
    expect(describeAnswer({ ack: 'overdue', ackAt: AT })).toEqual([`overdue since ${AT}: no answer yet`]);
    expect(describeAnswer({ ack: 'acknowledged', ackAt: AT, ackFile: 'orders.csv.ack' })).toEqual([
      `acknowledged at ${AT} (orders.csv.ack)`,
    ]);
    expect(
      describeAnswer({
        ack: 'rejected',
        ackAt: AT,
        ackFile: 'orders.csv.nack',
        ackReason: 'line 3: bad date\r\nline 9: unknown SKU\n\n',
      }),
    ).toEqual([`rejected at ${AT} (orders.csv.nack): line 3: bad date`, 'line 9: unknown SKU']);
    expect(describeAnswer({ ack: 'rejected', ackAt: AT, ackFile: 'orders.csv.nack' })).toEqual([
      `rejected at ${AT} (orders.csv.nack)`,
    ]);
  });
});

describe('the deliveries table', () => {
  it('has no ANSWER column when no listed delivery has an answer', () => {
    expect(formatDeliveryTable([toDeliveryView(facts())])[0]).not.toContain('ANSWER');
  });

  it('adds one when any does, unanswered for pending and - for the others', () => {
    const lines = formatDeliveryTable([
      toDeliveryView(facts({ ack: 'rejected', ackAt: AT })),
      toDeliveryView(facts({ ack: 'pending', key: 'acme/b.csv' })),
      toDeliveryView(facts({ partnerId: 'globex', key: 'globex/c.csv' })),
    ]);
    expect(lines).toEqual([
      'UPDATED               PARTNER  STATUS     ANSWER      KEY              REMOTE PATH          ATT  LAST ERROR',
      '2026-11-25T02:00:01Z  acme     delivered  rejected    acme/orders.csv  /inbound/orders.csv  1    -',
      '2026-11-25T02:00:01Z  acme     delivered  unanswered  acme/b.csv       /inbound/orders.csv  1    -',
      '2026-11-25T02:00:01Z  globex   delivered  -           globex/c.csv     /inbound/orders.csv  1    -',
    ]);
  });
});

describe('ferry deliveries show', () => {
  const detail = (overrides: Partial<DeliveryDetailFacts>): DeliveryDetailFacts => ({
    ...toDeliveryView(facts()),
    receipt: null,
    audit: [],
    ...overrides,
  });

  it('prints the answer after the delivery time, a hostile reason escaped', () => {
    const lines = formatDeliveryDetail(
      detail({
        deliveredAt: '2026-11-25T02:00:01.500Z',
        ack: 'rejected',
        ackAt: AT,
        ackFile: 'orders.csv.nack',
        ackReason: 'bad row\n\u001b[31mred\u202e',
      }),
    );
    const at = lines.findIndex((l) => l.startsWith('delivered at'));
    expect(lines.slice(at + 1, at + 3)).toEqual([
      `answer           rejected at ${AT} (orders.csv.nack): bad row`,
      '                 \\x1b[31mred\\u202e',
    ]);
  });

  it('prints no answer line for a partner without answers', () => {
    expect(formatDeliveryDetail(detail({})).some((l) => l.startsWith('answer'))).toBe(false);
  });
});
