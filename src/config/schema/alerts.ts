// Where alerts go: a partner's own receiver (`alerts` in partners/*.yaml) and ferry.yaml's `alerts`.
import { z } from 'zod';
import { checkWebhookUrl } from '../../core/webhook-url.js';
import { DEFAULT_RUNBOOK_BASE_URL } from '../../core/runbook-for.js';
import { envNameField, fileRefField, whenValid, type PasswordRef } from './fields.js';

/** Where a webhook URL comes from: the config itself (only a URL that visibly holds no token), or a secret reference. */
export type WebhookRef = { url: string } | { env: string } | { file: string };

/** Where alerts go: a webhook, and optionally the HMAC key that signs each body (by reference). */
export interface AlertReceiver {
  webhook: WebhookRef;
  secret?: PasswordRef;
}

/** ferry.yaml `alerts`: the default receiver (partners may name their own) and the shared settings. */
export interface AlertSettings {
  receiver?: AlertReceiver;
  timeoutSeconds: number;
  dedupMinutes: number;
  /** Where the runbooks (docs/runbooks/*.md) are served; alerts and failed deliveries link into it. */
  runbookBaseUrl: string;
}

const WEBHOOK_FIELDS = ['webhook', 'webhookEnv', 'webhookFile'] as const;
const ALERT_SECRET_FIELDS = ['secretEnv', 'secretFile'] as const;

const literalWebhookField = z.string().check((ctx) => {
  const problem = checkWebhookUrl(ctx.value, true);
  if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
});

const alertReceiverFields = {
  webhook: literalWebhookField.optional(),
  webhookEnv: envNameField.optional(),
  webhookFile: fileRefField.optional(),
  secretEnv: envNameField.optional(),
  secretFile: fileRefField.optional(),
};

interface AlertReceiverInput {
  webhook?: string;
  webhookEnv?: string;
  webhookFile?: string;
  secretEnv?: string;
  secretFile?: string;
}

/** One webhook source at most (exactly one when `required`), one secret source at most, a secret only with a webhook. */
function checkAlertReceiver(value: AlertReceiverInput, ctx: z.core.$RefinementCtx, required: boolean): void {
  const given = WEBHOOK_FIELDS.filter((k) => value[k] !== undefined);
  if (given.length === 0 && required) {
    ctx.addIssue({ code: 'custom', message: `needs one of ${WEBHOOK_FIELDS.join(', ')}`, path: [] });
  }
  for (const extra of given.slice(1)) {
    ctx.addIssue({
      code: 'custom',
      message: `only one of ${WEBHOOK_FIELDS.join(', ')} may be set (${given[0]} is already set)`,
      path: [extra],
    });
  }
  if (value.secretEnv !== undefined && value.secretFile !== undefined) {
    ctx.addIssue({ code: 'custom', message: 'set secretEnv or secretFile, not both', path: ['secretFile'] });
  }
  const secret = ALERT_SECRET_FIELDS.find((k) => value[k] !== undefined);
  if (given.length === 0 && secret !== undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `only allowed with ${WEBHOOK_FIELDS.join(', ')} (the key signs what is sent there)`,
      path: [secret],
    });
  }
}

function toAlertReceiver(value: AlertReceiverInput): AlertReceiver | undefined {
  const webhook: WebhookRef | undefined =
    value.webhook !== undefined
      ? { url: value.webhook }
      : value.webhookEnv !== undefined
        ? { env: value.webhookEnv }
        : value.webhookFile !== undefined
          ? { file: value.webhookFile }
          : undefined;
  if (webhook === undefined) return undefined;
  const secret =
    value.secretEnv !== undefined
      ? { env: value.secretEnv }
      : value.secretFile !== undefined
        ? { file: value.secretFile }
        : undefined;
  return secret === undefined ? { webhook } : { webhook, secret };
}

/** A partner's `alerts`: its own receiver, used instead of ferry.yaml's (not in addition to it). */
export const partnerAlertsSchema = z
  .strictObject(alertReceiverFields)
  .superRefine(
    (alerts, ctx) => checkAlertReceiver(alerts, ctx, true),
    whenValid(...WEBHOOK_FIELDS, ...ALERT_SECRET_FIELDS),
  )
  .transform((alerts): AlertReceiver => toAlertReceiver(alerts)!);

// Links in alerts are followed by people in a hurry: only plain http(s) URLs, no credentials in them.
const runbookBaseUrlField = z.string().check((ctx) => {
  let url: URL | undefined;
  try {
    url = new URL(ctx.value);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    ctx.issues.push({ code: 'custom', message: 'must be an http:// or https:// URL', input: ctx.value });
  } else if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    ctx.issues.push({
      code: 'custom',
      message: 'must not hold a user, password, ?query or #fragment (the runbook file name is appended)',
      input: ctx.value,
    });
  }
});

/** ferry.yaml `alerts`. `dedupMinutes` may be a fraction (0.1 = 6 s); 0 sends every occurrence. */
export const alertsSchema = z
  .strictObject({
    ...alertReceiverFields,
    timeoutSeconds: z.number().positive().max(300).default(10),
    dedupMinutes: z.number().min(0).max(10080).default(60),
    runbookBaseUrl: runbookBaseUrlField.default(DEFAULT_RUNBOOK_BASE_URL),
  })
  .superRefine(
    (alerts, ctx) => checkAlertReceiver(alerts, ctx, false),
    whenValid(...WEBHOOK_FIELDS, ...ALERT_SECRET_FIELDS),
  )
  .transform(({ timeoutSeconds, dedupMinutes, runbookBaseUrl, ...fields }): AlertSettings => {
    const receiver = toAlertReceiver(fields);
    const shared = { timeoutSeconds, dedupMinutes, runbookBaseUrl };
    return receiver === undefined ? shared : { receiver, ...shared };
  });
