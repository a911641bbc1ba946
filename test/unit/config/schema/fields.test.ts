import { describe, expect, it } from 'vitest';
import { checkCronExpression } from '../../../../src/config/schema/fields.js';

describe('checkCronExpression', () => {
  it.each(['0 2 * * *', '*/5 * * * *', '30 0 2 * * 1-5', '0 0 1 */3 *'])('accepts "%s"', (expr) => {
    expect(checkCronExpression(expr)).toBeUndefined();
  });

  it.each([
    ['@daily', /must have 5 fields/],
    ['0 2 * *', /must have 5 fields/],
    ['0 0 2 * * * 2030', /must have 5 fields/],
    ['0 25 * * *', /^invalid cron expression: /],
    ['0 0 30 2 *', /^invalid cron expression: /],
  ])('rejects "%s"', (expr, message) => {
    expect(checkCronExpression(expr)).toMatch(message);
  });
});
