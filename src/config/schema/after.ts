// A partner's `after`: what happens to the source object once it was delivered.
import { z } from 'zod';
import { checkMoveTemplate, type SourceAfter } from '../../core/source-housekeeping.js';

/** `after.source`: what happens to the source object once delivered (src/core/source-housekeeping.ts). */
const AFTER_SOURCE_MESSAGE = 'must be none, tag, or { move: "archive/{key}" }';
// Checked by hand rather than as a union, so a bad template is reported at its own line and column.
const afterSourceField = z
  .unknown()
  .check((ctx) => {
    const value = ctx.value;
    if (value === 'none' || value === 'tag') return;
    const move = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
    if (move === undefined || typeof move.move !== 'string') {
      ctx.issues.push({ code: 'custom', message: AFTER_SOURCE_MESSAGE, input: value });
      return;
    }
    const extras = Object.keys(move).filter((k) => k !== 'move');
    // Reported like a strictObject's extra keys: at the key, not its value.
    if (extras.length > 0) ctx.issues.push({ code: 'unrecognized_keys', keys: extras, input: move });
    const problem = checkMoveTemplate(move.move);
    if (problem === undefined) return;
    ctx.issues.push({ code: 'custom', message: problem, path: ['move'], input: value });
  })
  .transform((value) => value as SourceAfter);

export const afterSchema = z.strictObject({ source: afterSourceField });
