import { describe, expect, it } from 'vitest';
import { checkWebhookUrl, webhookOrigin } from '../../../src/core/webhook-url.js';

const TOKEN = 'xoxb4Fq9TzK2mW8pL1vR7cN3';

describe('checkWebhookUrl', () => {
  it.each([
    'https://alerts.example.com/ferry',
    'https://alerts.example.com:8443/hooks/ferry-prod',
    'http://127.0.0.1:9000/alerts',
    'https://ops.example.com/api/v2/events/12345',
  ])('accepts %s written in the config', (url) => {
    expect(checkWebhookUrl(url, true)).toBeUndefined();
  });

  it.each([
    ['https://user:pw@alerts.example.com/x', 'must not contain credentials'],
    ['https://token@alerts.example.com/x', 'must not contain credentials'],
    ['https://alerts.example.com/x?token=abc', 'must not have a query string'],
    ['https://alerts.example.com/x?', 'must not have a query string'],
    ['https://alerts.example.com/x#abc', 'must not have a #fragment'],
    ['https://hooks.slack.com/services/T0/B0/abc', 'puts its token in the URL'],
    ['https://discord.com/api/webhooks/1/abc', 'puts its token in the URL'],
    ['https://acme.webhook.office.com/webhookb2/x', 'puts its token in the URL'],
    [`https://alerts.example.com/hooks/${TOKEN}`, 'looks like a token'],
  ])('refuses %s in the config (%s) without echoing it', (url, why) => {
    const problem = checkWebhookUrl(url, true);
    expect(problem).toContain(why);
    expect(problem).toContain('webhookEnv or webhookFile');
    expect(problem).not.toContain('abc');
    expect(problem).not.toContain(TOKEN);
  });

  it('accepts those URLs from an environment variable or file', () => {
    expect(checkWebhookUrl('https://hooks.slack.com/services/T0/B0/abc', false)).toBeUndefined();
    expect(checkWebhookUrl('https://user:pw@alerts.example.com/x?token=abc', false)).toBeUndefined();
  });

  it.each([
    'ftp://alerts.example.com/x',
    'alerts.example.com/x',
    'https://exa mple.com/',
    '',
    'https://a.example.com/\n',
  ])('refuses %j anywhere', (url) => {
    expect(checkWebhookUrl(url, false)).toBe('must be an http:// or https:// URL');
  });
});

describe('webhookOrigin', () => {
  it('keeps scheme, host and port only', () => {
    expect(webhookOrigin(`https://u:p@hooks.slack.com:443/services/T0/B0/${TOKEN}?x=1#y`)).toBe(
      'https://hooks.slack.com',
    );
    expect(webhookOrigin('http://127.0.0.1:9000/alerts')).toBe('http://127.0.0.1:9000');
    expect(webhookOrigin('not a url')).toBe('(invalid URL)');
  });
});
