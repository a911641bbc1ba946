// A partner's `retry`: how often and how patiently a failed delivery is tried again.
import { z } from 'zod';
import { whenValid } from './fields.js';

const attemptsField = z.int().min(1).max(100);
const backoffField = z.number().positive();

export const retrySchema = z
  .strictObject({
    attempts: attemptsField.default(10),
    backoffSeconds: backoffField.default(30),
    maxBackoffSeconds: backoffField.default(3600),
  })
  .superRefine(
    (retry, ctx) => {
      if (retry.maxBackoffSeconds < retry.backoffSeconds) {
        ctx.addIssue({
          code: 'custom',
          message: 'must be at least backoffSeconds',
          path: ['maxBackoffSeconds'],
        });
      }
    },
    whenValid('backoffSeconds', 'maxBackoffSeconds'),
  );

/** ferry.yaml `defaults.retry`. */
export const retryDefaultsSchema = z.strictObject({
  attempts: attemptsField.optional(),
  backoffSeconds: backoffField.optional(),
  maxBackoffSeconds: backoffField.optional(),
});
