// Zod schemas for ferry.yaml and partners/*.yaml, one module per section under schema/; this file is the
// one entry the rest of Ferry imports. Every object is strict: a typo is an error, not a silent default.
// Messages never echo the offending value (it may be a secret pasted into the wrong field).
export { checkCronExpression, isValidTimezone, type PasswordRef } from './schema/fields.js';
export { checkProxyUrl, parseProxyUrl, type EgressProxySetting } from './schema/egress-proxy.js';
export { normaliseRemoteDirectory, type SecretAuth } from './schema/target.js';
export type { AlertReceiver, AlertSettings, WebhookRef } from './schema/alerts.js';
export type { TransformConfig, PgpConfig } from './schema/transform.js';
export { PREVALIDATE_MAX_BYTES, type CsvValidationConfig } from './schema/validate.js';
export type { ShapeColumnConfig, ShapeConfig } from './schema/shape.js';
export type { AckConfig } from './schema/ack.js';
export type { ManifestConfig } from './schema/manifest.js';
export {
  partnerDefaultsSchema,
  partnerSchema,
  type PartnerConfig,
  type PartnerDefaults,
} from './schema/partner.js';
export type { DashboardLogin, HttpSettings } from './schema/http.js';
export type { RedisSettings, RedisTarget } from './schema/redis.js';
export {
  LOG_LEVELS,
  ferryFileSchema,
  serviceSchema,
  type LogLevel,
  type ServiceConfig,
} from './schema/service.js';
