// @ts-check
// Ferry web UI. Hash routes: #/partners, #/deliveries?q=&partner=&status=&since=&cursor=,
// #/deliveries/<id>, #/upload. Data from the API is only ever rendered as text (textContent, text
// nodes): S3 keys, reasons and error messages are attacker-controlled. Writes are same-origin JSON
// fetches; the server checks the role again, hiding controls from viewers is only a courtesy.

// "transform: gzip → pgp (2 recipients)", "sidecars: .sha256, .done": the CLI's own formatter
// (src/core/format-deliveries.ts), which the server serves as this module (web-ui.ts).
import { describeAnswer, describeContract, describeManifest } from './describe-contract.js';

// The API's answers as this page reads them (src/http/api-routes.ts). They are trusted for shape,
// never for content: every value is rendered as text.
/** @typedef {import('../../../core/delivery-view.js').DeliveryView} DeliveryView */
/** @typedef {import('../../../core/format-deliveries.js').DeliveryDetailFacts} DeliveryDetail */
/** @typedef {{ user?: string | null, role: string }} Me */
/** @typedef {{ paused: boolean, source?: string, by?: string, at?: string, reason?: string }} PauseState */
/** @typedef {{ configured: boolean, open: boolean, nextOpen?: string, nextClose?: string }} WindowState */
/** @typedef {{ status: string, by?: string, expected?: number, found?: number, delivered?: number }} SlaState */
/** @typedef {{ key: string, etag: string, size?: number }} StaleObject */
/** @typedef {{ at: string, listed: number, skipped: { stale?: number }, stale: StaleObject[] }} SweepSummary */
/** @typedef {{ name: string, size: number, firstSeenAt: string }} UnmatchedAnswer */
/**
 * @typedef {object} ManifestState
 * @property {'window' | 'sweep'} per
 * @property {number} filesWaiting delivered files no manifest lists yet
 * @property {{ scope: string, name: string, files: number, createdAt: string, deliveryId?: string, status?: string }} [last]
 */
/**
 * @typedef {object} Partner
 * @property {string} id
 * @property {boolean} enabled
 * @property {{ cron: string, timezone: string, nextRun?: string }} schedule
 * @property {PauseState} pause
 * @property {WindowState} window
 * @property {SlaState | undefined} sla
 * @property {{ at: string, deliveryId: string, key: string } | null | undefined} lastDelivery
 * @property {number} failed
 * @property {number | undefined} delivered24h
 * @property {SweepSummary | null} lastSweep
 * @property {UnmatchedAnswer[] | undefined} unmatchedAnswers only for partners with `ack:`
 * @property {ManifestState | undefined} manifest only for partners with `manifest:`
 * @property {{ on: boolean, lastEventAt: string | null }} [events] `events: true`, and when its last S3 event came
 */
/** @typedef {{ partners: Partner[] }} PartnerList */
/** @typedef {{ items: DeliveryView[], nextCursor: string | null, total?: number }} DeliveryList */
/** @typedef {{ jobId: string }} Queued */
/** @typedef {{ bucket: string, key: string }} Stored */
/** @typedef {import('./types.js').Child} Child */
/** @typedef {string | number | boolean | null | undefined | ((event: Event) => unknown)} AttrValue */

/**
 * An element of the page shell (index.html); missing means the page and script disagree.
 * @param {string} id
 * @returns {HTMLElement}
 */
function shell(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error('index.html has no #' + id);
  return el;
}

const main = shell('main');
const flash = shell('flash');
const STATUSES = ['queued', 'publishing', 'delivered', 'failed', 'quarantined', 'skipped', 'superseded'];
/** The partner's answer (`ack:`), filtered by the same status parameter (src/core/ack-filter.ts). */
const ANSWER_FILTERS = ['acknowledged', 'rejected', 'overdue', 'unanswered'];
/**
 * How an `ack` value is shown: `pending` reads as the filter that finds it.
 * @param {string} ack
 */
const answerLabel = (ack) => (ack === 'pending' ? 'unanswered' : ack);
/** @type {Me} */
let me = { user: undefined, role: 'viewer' };
let renderToken = 0;

const isOperator = () => me.role === 'operator';

/** Fragment links, paths on this origin and http(s) URLs; anything else (javascript:, //host) becomes inert. */
/** @param {unknown} href */
function safeHref(href) {
  const value = String(href);
  if (value.startsWith('#') || (value.startsWith('/') && !value.startsWith('//'))) return value;
  // Absolute links only to http(s) pages (the runbooks), never javascript: or data:.
  if (/^https?:\/\//i.test(value) && URL.canParse(value)) return value;
  return '#';
}

/**
 * Element builder: attributes as strings, children as nodes or text (never parsed as HTML).
 * @param {string} tag
 * @param {Record<string, AttrValue> | null} attrs `on<event>` values are listeners
 * @param {...Child} children
 * @returns {HTMLElement}
 */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') el.className = String(value);
    else if (name.startsWith('on')) el.addEventListener(name.slice(2), /** @type {EventListener} */ (value));
    else if (name === 'href') el.setAttribute('href', safeHref(value));
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  // Flattened all the way, only the leaves of Child are left.
  const leaves = /** @type {Exclude<Child, readonly Child[]>[]} */ (
    /** @type {unknown[]} */ (children).flat(Infinity)
  );
  for (const child of leaves) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * fetch on this origin; options.json makes it a POST with a JSON body, options.body one with a raw body.
 * The answer is the JSON as sent; callers name its shape T (see the typedefs above).
 * @template T
 * @param {string} path
 * @param {{ json?: unknown, body?: BodyInit, type?: string }} [options]
 * @returns {Promise<T>}
 */
async function api(path, options = {}) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  /** @type {RequestInit} */
  const init = { credentials: 'same-origin', headers };
  if (options.json !== undefined) {
    init.method = 'POST';
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(options.json);
  } else if (options.body !== undefined) {
    init.method = 'POST';
    headers['content-type'] = options.type || 'application/octet-stream';
    init.body = options.body;
  }
  const res = await fetch(path, init);
  const text = await res.text();
  /** @type {unknown} */
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const problem = /** @type {{ error?: string, message?: string, reason?: unknown } | null} */ (data);
    let message = (problem && (problem.error || problem.message)) || text.trim() || res.statusText;
    if (problem && typeof problem.reason === 'string') message += ' (' + problem.reason + ')';
    throw new ApiError(res.status, message);
  }
  return /** @type {T} */ (data);
}

/**
 * @param {string} message
 * @param {'ok' | 'error'} [kind]
 */
function say(message, kind = 'ok') {
  flash.className = 'flash ' + kind;
  flash.textContent = message;
}

function clearFlash() {
  flash.className = 'flash';
  flash.textContent = '';
}

// ---- formatting -------------------------------------------------------------------------------

const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** @param {Date} date */
function relative(date) {
  const seconds = (date.getTime() - Date.now()) / 1000;
  /** @type {[Intl.RelativeTimeFormatUnit, number][]} */
  const units = [
    ['day', 86400],
    ['hour', 3600],
    ['minute', 60],
  ];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return relativeFormat.format(Math.round(seconds / size), unit);
  }
  return relativeFormat.format(Math.round(seconds), 'second');
}

/**
 * A <time> with the local date and time, the ISO value on hover.
 * @param {string | undefined | null} iso
 * @returns {Child}
 */
function time(iso, withRelative = false) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const sameYear = date.getFullYear() === new Date().getFullYear();
  const local = date.toLocaleString(undefined, {
    year: sameYear ? undefined : 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  });
  return h(
    'time',
    { datetime: date.toISOString(), title: date.toISOString() },
    local,
    withRelative ? h('span', { class: 'muted' }, ' (' + relative(date) + ')') : null,
  );
}

/** @param {unknown} n */
function bytes(n) {
  if (typeof n !== 'number') return '—';
  if (n < 1024) return n + ' B';
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return value.toFixed(value < 10 ? 1 : 0) + ' ' + units[unit];
}

/** @type {Record<string, string | undefined>} */
const BADGE_KIND = {
  delivered: 'good',
  ok: 'good',
  enabled: 'good',
  open: 'good',
  failed: 'bad',
  missed: 'bad',
  'missing-export': 'bad',
  quarantined: 'bad',
  rejected: 'bad',
  acknowledged: 'good',
  overdue: 'warn',
  paused: 'warn',
  warning: 'warn',
  pending: 'info',
  queued: 'info',
  publishing: 'info',
  taken: 'info',
  closed: 'warn',
};

/** @param {string} text */
function badge(text) {
  return h('span', { class: 'badge ' + (BADGE_KIND[text] || 'plain') }, text);
}

/**
 * The error message without the code it starts with (the code is shown beside it).
 * @param {string | undefined} lastError
 * @param {string} code
 */
function errorText(lastError, code) {
  const message = lastError || '';
  return message.startsWith(code + ': ') ? message.slice(code.length + 2) : message;
}

/**
 * @param {string} id
 * @param {string} text
 */
function deliveryLink(id, text) {
  return h('a', { href: '#/deliveries/' + encodeURIComponent(id) }, text);
}

/**
 * @param {string | undefined} url
 * @param {string} label
 */
function boardLink(url, label) {
  if (!url) return h('span', { class: 'muted' }, '—');
  return h('a', { href: url, class: 'board', 'aria-label': label }, 'Bull Board');
}

/**
 * @param {string} caption
 * @param {(string | false)[]} headers a false one is left out
 * @param {HTMLElement[]} rows
 * @param {string} empty shown instead of an empty table
 */
function table(caption, headers, rows, empty) {
  if (rows.length === 0) return h('p', { class: 'muted' }, empty);
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      h('caption', { class: 'visually-hidden' }, caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          headers.filter(Boolean).map((t) => h('th', { scope: 'col' }, t)),
        ),
      ),
      h('tbody', {}, rows),
    ),
  );
}

/**
 * @param {string} title
 * @param {...Child} content
 */
function page(title, ...content) {
  document.title = title + ' · Ferry';
  return h('section', { 'aria-labelledby': 'page-title' }, h('h1', { id: 'page-title' }, title), content);
}

/**
 * A submit handler that disables the form while the request runs and reports errors.
 * @param {(form: HTMLFormElement) => Promise<void>} action
 * @returns {(event: Event) => Promise<void>}
 */
function onSubmit(action) {
  return async (event) => {
    event.preventDefault();
    const form = /** @type {HTMLFormElement} */ (event.currentTarget);
    const buttons = form.querySelectorAll('button');
    buttons.forEach((b) => (b.disabled = true));
    try {
      await action(form);
    } catch (err) {
      say(err instanceof Error ? err.message : String(err), 'error');
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  };
}

/**
 * The named control of a form this page built (missing: the page and its handler disagree).
 * @param {HTMLFormElement} form
 * @param {string} name
 */
function control(form, name) {
  const el = form.elements.namedItem(name);
  if (
    el instanceof HTMLInputElement ||
    el instanceof HTMLSelectElement ||
    el instanceof HTMLTextAreaElement
  ) {
    return el;
  }
  throw new Error('the form has no control ' + name);
}

/**
 * An <input> of a form this page built.
 * @param {HTMLFormElement} form
 * @param {string} name
 */
function inputControl(form, name) {
  const el = control(form, name);
  if (el instanceof HTMLInputElement) return el;
  throw new Error('the form has no input ' + name);
}

/**
 * @param {string} id
 * @param {string} label
 * @param {boolean} multiline
 */
function reasonField(id, label, multiline) {
  const attrs = { id, name: 'reason', required: true, minlength: 3, maxlength: 500, autocomplete: 'off' };
  return [
    h('label', { for: id }, label),
    multiline
      ? h('textarea', { ...attrs, rows: 3 })
      : h('input', { ...attrs, type: 'text', placeholder: 'reason' }),
  ];
}

// ---- partners ---------------------------------------------------------------------------------

/** @param {Partner} p */
function pauseCell(p) {
  if (!p.enabled) return [badge('disabled')];
  if (!p.pause.paused) return [badge('enabled')];
  const who =
    p.pause.source === 'config'
      ? 'paused in config'
      : ['by ' + (p.pause.by || 'an operator'), p.pause.reason ? ': ' + p.pause.reason : ''].join('');
  return [
    badge('paused'),
    h('div', { class: 'detail' }, who, p.pause.at ? [', ', time(p.pause.at, true)] : null),
  ];
}

/** @param {WindowState} w */
function windowCell(w) {
  if (!w.configured) return h('span', { class: 'muted' }, 'any time');
  if (w.open) return [badge('open'), w.nextClose ? [' until ', time(w.nextClose)] : null];
  return [badge('closed'), w.nextOpen ? [' opens ', time(w.nextOpen, true)] : null];
}

/** @param {SlaState | undefined} sla */
function slaCell(sla) {
  if (!sla || sla.status === 'none') return h('span', { class: 'muted' }, 'none');
  const counts = [];
  if (typeof sla.delivered === 'number') counts.push(sla.delivered + ' delivered');
  if (typeof sla.found === 'number') counts.push(sla.found + ' found');
  if (typeof sla.expected === 'number') counts.push(sla.expected + ' expected');
  return [
    badge(sla.status),
    sla.by ? [' by ', time(sla.by)] : null,
    counts.length ? h('div', { class: 'detail' }, counts.join(', ')) : null,
  ];
}

/**
 * The newest manifest (its name, linked to its delivery, and that delivery's status: `taken` until
 * it is queued, `queued` until it starts) and how many delivered files wait for the next one.
 * @param {ManifestState | undefined} m
 */
function manifestCell(m) {
  if (!m) return h('span', { class: 'muted' }, 'none');
  const last = m.last;
  const waiting = m.filesWaiting + (m.filesWaiting === 1 ? ' file' : ' files') + ' waiting';
  return [
    last
      ? [
          h('span', { class: 'key' }, last.deliveryId ? deliveryLink(last.deliveryId, last.name) : last.name),
          ' ',
          badge(last.status || (last.deliveryId ? 'queued' : 'taken')),
          h(
            'div',
            { class: 'detail' },
            last.files + (last.files === 1 ? ' file, ' : ' files, '),
            time(last.createdAt, true),
          ),
        ]
      : h('span', { class: 'muted' }, 'none yet'),
    h('div', { class: 'detail' }, 'per ' + m.per + ', ' + waiting),
  ];
}

/** @param {Partner} p */
function pauseForm(p) {
  if (!p.enabled) return h('span', { class: 'muted' }, '—');
  if (p.pause.paused && p.pause.source === 'config') {
    return h('span', { class: 'muted' }, 'set paused: false in its config');
  }
  const action = p.pause.paused ? 'resume' : 'pause';
  const verb = p.pause.paused ? 'Resume' : 'Pause';
  const id = 'reason-' + action + '-' + p.id;
  return h(
    'form',
    {
      class: 'inline',
      'aria-label': verb + ' ' + p.id,
      onsubmit: onSubmit(async (form) => {
        const reason = control(form, 'reason').value.trim();
        await api('/api/partners/' + encodeURIComponent(p.id) + '/' + action, { json: { reason } });
        await render();
        say(p.id + (action === 'pause' ? ' paused' : ' resumed') + '.');
      }),
    },
    reasonField(id, 'Reason', false),
    h('button', { type: 'submit' }, verb),
  );
}

/** A stale object sent on request (POST /api/partners/:id/redeliver, as ferry redeliver <partner> <key>). */
/**
 * @param {Partner} p
 * @param {StaleObject} o
 * @param {number} i
 */
function staleSendForm(p, o, i) {
  return h(
    'form',
    {
      class: 'inline',
      'aria-label': 'Send ' + o.key,
      onsubmit: onSubmit(async (form) => {
        const reason = control(form, 'reason').value.trim();
        /** @type {Queued} */
        const result = await api('/api/partners/' + encodeURIComponent(p.id) + '/redeliver', {
          json: { key: o.key, etag: o.etag, reason },
        });
        await render();
        say(o.key + ' queued for ' + p.id + ' as job ' + result.jobId + '.');
      }),
    },
    reasonField('reason-send-' + p.id + '-' + i, 'Reason', false),
    h('button', { type: 'submit' }, 'Send'),
  );
}

/** @param {Partner} p */
function sweepCell(p) {
  const s = p.lastSweep;
  if (!s) return h('span', { class: 'muted' }, 'none yet');
  const stale = s.skipped.stale || 0;
  return [
    h('div', {}, 'last sweep ', time(s.at, true), ': listed ' + s.listed + ', stale ' + stale),
    stale > 0
      ? [
          h(
            'div',
            { class: 'detail' },
            'older than source.maxAgeDays: sent only on request',
            stale > s.stale.length ? ' (first ' + s.stale.length + ' shown)' : '',
          ),
          h(
            'ul',
            { class: 'stale', 'aria-label': 'Stale objects of ' + p.id },
            s.stale.map((o, i) =>
              h(
                'li',
                {},
                h('span', { class: 'key' }, o.key),
                ' ',
                h('span', { class: 'muted' }, bytes(o.size)),
                isOperator() && p.enabled ? staleSendForm(p, o, i) : null,
              ),
            ),
          ),
        ]
      : null,
  ];
}

/**
 * Under the schedule: whether S3 events start deliveries too (the sweep stays the safety net), and when
 * the last one came. Nothing for a partner that only sweeps.
 * @param {Partner['events']} e
 */
function eventsLine(e) {
  if (!e || !e.on) return null;
  return h(
    'div',
    { class: 'detail' },
    'event-driven, last event ',
    e.lastEventAt ? time(e.lastEventAt, true) : h('span', { class: 'muted' }, 'none yet'),
  );
}

/** @param {Partner} p */
function partnerRow(p) {
  const last = p.lastDelivery;
  return h(
    'tr',
    { 'data-partner': p.id },
    h('th', { scope: 'row' }, h('a', { href: '#/deliveries?partner=' + encodeURIComponent(p.id) }, p.id)),
    h('td', {}, pauseCell(p)),
    h(
      'td',
      { 'data-schedule': p.id },
      h('code', {}, p.schedule.cron),
      ' ',
      h('span', { class: 'muted' }, p.schedule.timezone),
      p.schedule.nextRun ? h('div', { class: 'detail' }, 'next ', time(p.schedule.nextRun, true)) : null,
      eventsLine(p.events),
    ),
    h('td', {}, windowCell(p.window)),
    h('td', {}, slaCell(p.sla)),
    h(
      'td',
      {},
      last
        ? [time(last.at, true), h('div', { class: 'detail key' }, deliveryLink(last.deliveryId, last.key))]
        : h('span', { class: 'muted' }, 'none yet'),
    ),
    h(
      'td',
      { class: 'num' },
      p.failed > 0
        ? h(
            'a',
            {
              href: '#/deliveries?partner=' + encodeURIComponent(p.id) + '&status=failed',
              class: 'bad-text',
            },
            String(p.failed),
          )
        : '0',
    ),
    h('td', { class: 'num' }, String(p.delivered24h ?? 0)),
    h('td', { 'data-manifest': p.id }, manifestCell(p.manifest)),
    h('td', {}, sweepCell(p)),
    isOperator() ? h('td', {}, pauseForm(p)) : null,
  );
}

async function partnersPage() {
  /** @type {PartnerList} */
  const { partners } = await api('/api/partners');
  return page(
    'Partners',
    table(
      'Partners: state, schedule, window, SLA, recent deliveries, manifest and last sweep',
      [
        'Partner',
        'State',
        'Schedule',
        'Window',
        'SLA',
        'Last delivery',
        'Failed',
        'Delivered (24 h)',
        'Manifest',
        'Last sweep',
        isOperator() && 'Pause / resume',
      ],
      partners.map(partnerRow),
      'No partners configured.',
    ),
    unmatchedAnswers(partners),
  );
}

/**
 * Files in partners' ack directories that answer no delivery Ferry waits for (a misnamed answer, or
 * one for a file another system sent); nothing when there are none.
 * @param {Partner[]} partners
 */
function unmatchedAnswers(partners) {
  const rows = partners.flatMap((p) =>
    (p.unmatchedAnswers || []).map((a) =>
      h(
        'tr',
        { 'data-unmatched': p.id },
        h('td', {}, p.id),
        h('td', { class: 'key' }, a.name),
        h('td', { class: 'num' }, bytes(a.size)),
        h('td', {}, time(a.firstSeenAt, true)),
      ),
    ),
  );
  if (rows.length === 0) return null;
  return [
    h('h2', { id: 'unmatched-title' }, 'Unmatched answers'),
    h(
      'p',
      { class: 'muted' },
      "Files in partners' answer directories that match no delivered file waiting for an answer.",
    ),
    table('Unmatched answers', ['Partner', 'File', 'Size', 'First seen'], rows, ''),
  ];
}

// ---- deliveries -------------------------------------------------------------------------------

/** @param {string | null} iso */
function toLocalInput(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 16);
}

/** @param {URLSearchParams} params */
function deliveriesHash(params) {
  const clean = new URLSearchParams();
  for (const [k, v] of params) if (v) clean.set(k, v);
  const query = clean.toString();
  return '#/deliveries' + (query ? '?' + query : '');
}

/**
 * @param {URLSearchParams} params
 * @param {string[]} partnerIds
 */
function filterForm(params, partnerIds) {
  /**
   * @param {string} id
   * @param {string} label
   * @param {HTMLElement} control
   */
  const field = (id, label, control) => h('div', { class: 'field' }, h('label', { for: id }, label), control);
  /**
   * @param {string[]} values
   * @param {string | null} current
   * @param {string} allLabel
   */
  const options = (values, current, allLabel) => [
    h('option', { value: '' }, allLabel),
    values.map((v) => h('option', { value: v, selected: v === current }, v)),
  ];
  return h(
    'form',
    {
      role: 'search',
      class: 'filters',
      'aria-label': 'Find deliveries',
      /** @param {Event} event */
      onsubmit: (event) => {
        event.preventDefault();
        const form = /** @type {HTMLFormElement} */ (event.currentTarget);
        const sinceValue = control(form, 'since').value;
        const since = sinceValue ? new Date(sinceValue).toISOString() : '';
        location.hash = deliveriesHash(
          new URLSearchParams({
            q: control(form, 'q').value.trim(),
            partner: control(form, 'partner').value,
            status: control(form, 'status').value,
            since,
          }),
        );
      },
    },
    field(
      'f-q',
      'Search key or delivery id',
      h('input', { id: 'f-q', name: 'q', type: 'search', value: params.get('q') || '', autocomplete: 'off' }),
    ),
    field(
      'f-partner',
      'Partner',
      h(
        'select',
        { id: 'f-partner', name: 'partner' },
        options(partnerIds, params.get('partner'), 'all partners'),
      ),
    ),
    field(
      'f-status',
      'Status',
      h(
        'select',
        { id: 'f-status', name: 'status' },
        options(STATUSES, params.get('status'), 'any status'),
        h(
          'optgroup',
          { label: "Partner's answer" },
          ANSWER_FILTERS.map((v) => h('option', { value: v, selected: v === params.get('status') }, v)),
        ),
      ),
    ),
    field(
      'f-since',
      'Updated since',
      h('input', {
        id: 'f-since',
        name: 'since',
        type: 'datetime-local',
        value: toLocalInput(params.get('since')),
      }),
    ),
    h(
      'div',
      { class: 'field actions' },
      h('button', { type: 'submit' }, 'Search'),
      h('a', { href: '#/deliveries' }, 'Clear'),
    ),
  );
}

/** @param {DeliveryView} d */
function deliveryRow(d) {
  return h(
    'tr',
    { 'data-delivery': d.id },
    h('td', {}, time(d.updatedAt)),
    h('td', {}, d.partnerId),
    h('td', { class: 'key' }, deliveryLink(d.id, d.key)),
    h('td', {}, badge(d.status)),
    h('td', {}, d.ack ? badge(answerLabel(d.ack)) : h('span', { class: 'muted' }, '—')),
    h('td', { class: 'num' }, String(d.attempts ?? 0)),
    h('td', {}, d.lastErrorCode ? h('code', { title: d.lastError || '' }, d.lastErrorCode) : ''),
    h('td', {}, boardLink(d.boardUrl, 'Bull Board job for ' + d.key)),
  );
}

/** @param {URLSearchParams} params */
async function deliveriesPage(params) {
  const query = new URLSearchParams();
  for (const name of ['q', 'partner', 'status', 'since', 'until', 'cursor']) {
    const value = params.get(name);
    if (value) query.set(name, value);
  }
  query.set('limit', '50');
  /** @type {Promise<DeliveryList>} */
  const listing = api('/api/deliveries?' + query.toString());
  /** @type {Promise<PartnerList>} */
  const partnerListing = api('/api/partners');
  const [list, partnerList] = await Promise.all([listing, partnerListing]);
  const partnerIds = partnerList.partners.map((p) => p.id);
  const summary =
    list.items.length +
    (list.items.length === 1 ? ' delivery' : ' deliveries') +
    (typeof list.total === 'number' ? ' of ' + list.total : '') +
    (params.get('q') ? ' matching “' + params.get('q') + '”' : '') +
    (params.get('cursor') ? ' (older page)' : '');
  const next = new URLSearchParams(params);
  next.set('cursor', list.nextCursor || '');
  const newest = new URLSearchParams(params);
  newest.delete('cursor');
  return page(
    'Deliveries',
    filterForm(params, partnerIds),
    h('p', { class: 'muted', id: 'result-count', 'aria-live': 'polite' }, summary),
    table(
      'Deliveries, newest first',
      ['Updated', 'Partner', 'S3 key', 'Status', 'Answer', 'Attempts', 'Error', 'Job'],
      list.items.map(deliveryRow),
      'No deliveries match.',
    ),
    h(
      'nav',
      { class: 'pager', 'aria-label': 'Pages' },
      params.get('cursor') ? h('a', { href: deliveriesHash(newest) }, '← Newest') : null,
      list.nextCursor ? h('a', { href: deliveriesHash(next), rel: 'next' }, 'Older →') : null,
    ),
  );
}

// ---- one delivery -----------------------------------------------------------------------------

/** describeContract's lines, one per row; undefined (row hidden) when the contract changed nothing. */
/** @param {NonNullable<DeliveryDetail['receipt']>} receipt */
function contractLines(receipt) {
  const lines = describeContract(receipt);
  return lines.length > 0 ? lines.map((line) => h('div', {}, line)) : undefined;
}

/**
 * The partner's answer (describeAnswer's lines, a reject's reason included); undefined (row hidden)
 * when the partner sends no answers.
 * @param {DeliveryDetail} d
 */
function answerLines(d) {
  const lines = describeAnswer(d);
  if (lines.length === 0 || !d.ack) return undefined;
  return [badge(answerLabel(d.ack)), lines.map((line) => h('div', { class: 'answer' }, line))];
}

/**
 * Which manifest lists this file, or which manifest this file is (describeManifest's lines); undefined
 * (row hidden) otherwise.
 * @param {DeliveryDetail} d
 */
function manifestLines(d) {
  const lines = describeManifest(d);
  return lines.length > 0 ? lines.map((line) => h('div', {}, line)) : undefined;
}

/** @param {[string, Child][]} pairs rows with no value are left out */
function fieldList(pairs) {
  return h(
    'dl',
    { class: 'fields' },
    pairs
      .filter(([, value]) => value !== undefined && value !== null && value !== '')
      .map(([name, value]) => [h('dt', {}, name), h('dd', {}, value)]),
  );
}

/** @param {DeliveryDetail} d */
function redeliverForm(d) {
  return h(
    'form',
    {
      class: 'stacked',
      'aria-labelledby': 'redeliver-title',
      onsubmit: onSubmit(async (form) => {
        const reason = control(form, 'reason').value.trim();
        const replace = inputControl(form, 'replace').checked;
        /** @type {Queued} */
        const result = await api('/api/deliveries/' + encodeURIComponent(d.id) + '/redeliver', {
          json: { reason, replace },
        });
        await render();
        say('Redelivery queued as job ' + result.jobId + (replace ? ", replacing the partner's file." : '.'));
      }),
    },
    h('h2', { id: 'redeliver-title' }, 'Redeliver'),
    h(
      'p',
      { class: 'muted' },
      'Sends the file again, even if it was delivered. Your reason goes into the audit trail.',
    ),
    reasonField('redeliver-reason', 'Reason', true),
    // Unchecked, the partner's onExisting decides when it still has the file (fail: ERR_REMOTE_EXISTS).
    h(
      'label',
      { class: 'check' },
      h('input', { type: 'checkbox', id: 'redeliver-replace', name: 'replace' }),
      " Replace the partner's file if it is still there",
    ),
    h('button', { type: 'submit' }, 'Redeliver'),
  );
}

// A delivery that failed for good runs again from its recorded phase (src/ledger/retries.ts).
/** @param {DeliveryDetail} d */
function retryForm(d) {
  return h(
    'form',
    {
      class: 'stacked',
      'aria-labelledby': 'retry-title',
      onsubmit: onSubmit(async (form) => {
        const reason = control(form, 'reason').value.trim();
        /** @type {Queued} */
        const result = await api('/api/deliveries/' + encodeURIComponent(d.id) + '/retry', {
          json: { reason },
        });
        await render();
        say('Retry queued as job ' + result.jobId + '.');
      }),
    },
    h('h2', { id: 'retry-title' }, 'Retry'),
    h(
      'p',
      { class: 'muted' },
      'Runs this delivery again once its cause is fixed; it resumes where it stopped and never sends the file twice. Your reason goes into the audit trail.',
    ),
    reasonField('retry-reason', 'Reason', true),
    h('button', { type: 'submit' }, 'Retry'),
  );
}

/** @param {string} id */
async function deliveryPage(id) {
  /** @type {DeliveryDetail} */
  let d;
  try {
    d = await api('/api/deliveries/' + encodeURIComponent(id));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      return page('Delivery not found', h('p', {}, 'No delivery has the id ', h('code', {}, id), '.'));
    }
    throw err;
  }
  const audit = Array.isArray(d.audit) ? /** @type {DeliveryDetail['audit']} */ (d.audit) : [];
  return page(
    'Delivery',
    h('p', { class: 'key lead' }, d.key),
    fieldList([
      ['Status', badge(d.status)],
      ['Partner', h('a', { href: '#/deliveries?partner=' + encodeURIComponent(d.partnerId) }, d.partnerId)],
      ['Delivery id', h('code', {}, d.id)],
      ['S3 object', h('code', { class: 'key' }, 's3://' + d.bucket + '/' + d.key)],
      ['ETag', h('code', {}, d.etag)],
      ['Size', typeof d.size === 'number' ? bytes(d.size) + ' (' + d.size + ' bytes)' : undefined],
      ['SHA-256', d.sha256 ? h('code', {}, d.sha256) : undefined],
      ['MD5', d.md5 ? h('code', {}, d.md5) : undefined],
      [
        'Source SHA-256',
        d.receipt && d.receipt.source && d.receipt.source.sha256
          ? h('code', {}, d.receipt.source.sha256)
          : undefined,
      ],
      ['Remote path', d.remotePath ? h('code', { class: 'key' }, d.remotePath) : undefined],
      ['Contract', d.receipt ? contractLines(d.receipt) : undefined],
      ['Attempts', String(d.attempts ?? 0)],
      [
        'Last error',
        d.lastErrorCode
          ? [h('code', {}, d.lastErrorCode), ': ', errorText(d.lastError, d.lastErrorCode)]
          : d.lastError,
      ],
      [
        'Runbook',
        d.runbookUrl
          ? h(
              'a',
              { href: d.runbookUrl, rel: 'noopener noreferrer', target: '_blank' },
              'what to check and do',
            )
          : undefined,
      ],
      ['Reason', d.reason],
      ['Created', time(d.createdAt)],
      ['Updated', time(d.updatedAt)],
      ['Delivered', d.deliveredAt ? time(d.deliveredAt) : undefined],
      ['Answer', answerLines(d)],
      ['Manifest', manifestLines(d)],
      ['Job', [h('code', {}, d.jobId), ' ', boardLink(d.boardUrl, 'Bull Board job ' + d.jobId)]],
    ]),
    h('h2', {}, 'Receipt'),
    d.receipt
      ? h('pre', { class: 'receipt' }, JSON.stringify(d.receipt, null, 2))
      : h('p', { class: 'muted' }, 'No receipt: the file has not been delivered.'),
    h('h2', {}, 'Audit trail'),
    table(
      'Audit trail',
      ['When', 'Who', 'Action', 'Reason'],
      audit.map((a) =>
        h(
          'tr',
          {},
          h('td', {}, time(a.at)),
          h('td', {}, a.user),
          h('td', {}, a.replace ? a.action + ' (replace)' : a.action),
          h('td', {}, a.reason || ''),
        ),
      ),
      'No operator actions on this delivery.',
    ),
    // A failed delivery is retried, not redelivered (the API refuses that with 409); a rejected one is
    // delivered (its status stays so), so the partner can be sent a corrected file by redelivering it.
    isOperator() ? (d.status === 'failed' ? retryForm(d) : redeliverForm(d)) : null,
  );
}

// ---- send a file now --------------------------------------------------------------------------

async function uploadPage() {
  if (!isOperator()) {
    return page('Send a file now', h('p', {}, 'Sending files needs an operator login.'));
  }
  /** @type {PartnerList} */
  const { partners } = await api('/api/partners');
  const result = h('div', { id: 'upload-result', 'aria-live': 'polite' });
  return page(
    'Send a file now',
    h(
      'p',
      { class: 'muted' },
      "Puts a CSV file into the partner's S3 source prefix; the partner's next sweep delivers it.",
    ),
    h(
      'form',
      {
        class: 'stacked',
        'aria-label': 'Send a file now',
        onsubmit: onSubmit(async (form) => {
          const file = inputControl(form, 'file').files?.[0];
          if (!file) throw new Error('Choose a CSV file.');
          const name = control(form, 'name').value.trim() || file.name;
          const partner = control(form, 'partner').value;
          const query = new URLSearchParams({ partner, name });
          /** @type {Stored} */
          const stored = await api('/api/upload?' + query.toString(), { body: file, type: 'text/csv' });
          result.replaceChildren(
            h(
              'p',
              {},
              'Stored as ',
              h('code', { class: 'key' }, 's3://' + stored.bucket + '/' + stored.key),
              '. ',
              h(
                'a',
                { href: deliveriesHash(new URLSearchParams({ q: stored.key })) },
                'Follow it in deliveries',
              ),
            ),
          );
          say('Uploaded ' + name + ' for ' + partner + '.');
          form.reset();
        }),
      },
      h('label', { for: 'u-partner' }, 'Partner'),
      h(
        'select',
        { id: 'u-partner', name: 'partner', required: true },
        // A disabled partner takes no uploads (the API answers 409).
        partners.filter((p) => p.enabled).map((p) => h('option', { value: p.id }, p.id)),
      ),
      h('label', { for: 'u-file' }, 'CSV file'),
      h('input', { id: 'u-file', name: 'file', type: 'file', accept: '.csv,text/csv', required: true }),
      h(
        'label',
        { for: 'u-name' },
        'File name on the partner server (optional; default: the file’s own name)',
      ),
      h('input', { id: 'u-name', name: 'name', type: 'text', autocomplete: 'off', maxlength: 255 }),
      h('button', { type: 'submit' }, 'Send'),
    ),
    result,
  );
}

// ---- routing ----------------------------------------------------------------------------------

function route() {
  const raw = location.hash.replace(/^#\/?/, '');
  const at = raw.indexOf('?');
  const path = at < 0 ? raw : raw.slice(0, at);
  const params = new URLSearchParams(at < 0 ? '' : raw.slice(at + 1));
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { parts, params };
}

async function render() {
  const token = ++renderToken;
  const { parts, params } = route();
  const section = parts[0] || 'partners';
  for (const link of document.querySelectorAll('[data-nav]')) {
    if (!(link instanceof HTMLElement)) continue;
    if (link.dataset.nav === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  /** @type {HTMLElement} */
  let view;
  try {
    if (section === 'deliveries' && parts[1]) view = await deliveryPage(parts[1]);
    else if (section === 'deliveries') view = await deliveriesPage(params);
    else if (section === 'upload') view = await uploadPage();
    else view = await partnersPage();
  } catch (err) {
    view = page(
      'Something went wrong',
      h('p', { class: 'bad-text' }, err instanceof Error ? err.message : String(err)),
    );
  }
  if (token !== renderToken) return; // a later navigation has taken over
  main.replaceChildren(view);
  main.setAttribute('aria-busy', 'false');
}

async function start() {
  try {
    me = await api('/api/me');
  } catch (err) {
    say('Could not read your login: ' + (err instanceof Error ? err.message : String(err)), 'error');
  }
  shell('who').textContent = me.user ? me.user + ' (' + me.role + ')' : me.role;
  for (const el of document.querySelectorAll('[data-operator]')) {
    if (el instanceof HTMLElement) el.hidden = !isOperator();
  }
  window.addEventListener('hashchange', () => {
    clearFlash();
    void render();
  });
  await render();
}

void start();
