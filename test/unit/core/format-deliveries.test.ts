import { describe, expect, it } from 'vitest';
import { deliveryFacts } from '../../support/delivery-facts.js';
import { toDeliveryView } from '../../../src/core/delivery-view.js';
import { formatDeliveryTable, printable } from '../../../src/core/format-deliveries.js';

const facts = deliveryFacts;

describe('toDeliveryView', () => {
  it('names the job and links its Bull Board page', () => {
    expect(toDeliveryView(facts())).toMatchObject({
      id: 'dlv-acme-0123456789abcdef0123456789abcdef',
      jobId: 'dlv-acme-0123456789abcdef0123456789abcdef',
      boardUrl: '/admin/queue/deliver/dlv-acme-0123456789abcdef0123456789abcdef',
    });
  });
});

describe('formatDeliveryTable', () => {
  it('aligns one line per delivery under a header', () => {
    const lines = formatDeliveryTable([
      toDeliveryView(facts()),
      toDeliveryView(
        facts({
          partnerId: 'globex',
          status: 'failed',
          key: 'globex/x.csv',
          remotePath: undefined,
          attempts: 5,
          lastErrorCode: 'ERR_SFTP_AUTH',
          lastError: 'authentication refused',
        }),
      ),
    ]);
    expect(lines).toEqual([
      'UPDATED               PARTNER  STATUS     KEY              REMOTE PATH          ATT  LAST ERROR',
      '2026-11-25T02:00:01Z  acme     delivered  acme/orders.csv  /inbound/orders.csv  1    -',
      '2026-11-25T02:00:01Z  globex   failed     globex/x.csv     -                    5    ERR_SFTP_AUTH: authentication refused',
    ]);
  });

  it('keeps the end of long keys, and escapes control and bidi characters', () => {
    const [, line] = formatDeliveryTable([
      toDeliveryView(facts({ key: `acme/${'d'.repeat(80)}/\u202eevil\n.csv` })),
    ]);
    expect(line).toContain('…');
    expect(line).toContain('\\u202eevil\\x0a.csv');
    expect(line).not.toMatch(/[\n\u202e]/u);
    expect(printable('a\tb')).toBe('a\\x09b');
  });
});
