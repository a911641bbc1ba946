import { describe, expect, it } from 'vitest';
import { messagesOf, partnerInput } from '../../../support/partner-input.js';

describe('partnerSchema', () => {
  it('requires maxBackoffSeconds to be at least backoffSeconds', () => {
    expect(messagesOf(partnerInput({ retry: { backoffSeconds: 60, maxBackoffSeconds: 30 } }))).toEqual([
      'retry.maxBackoffSeconds: must be at least backoffSeconds',
    ]);
  });
});
