// @ts-check
// Ferry web UI. Hash routes: #/partners, #/deliveries?q=&partner=&status=&since=&cursor=,
// #/deliveries/<id>, #/upload. Data from the API is only ever rendered as text (textContent, text
// nodes): S3 keys, reasons and error messages are attacker-controlled. Writes are same-origin JSON
// fetches; the server checks the role again, hiding controls from viewers is only a courtesy.

// "transform: gzip → pgp (2 recipients)", "sidecars: .sha256, .done": the CLI's own formatter
// (src/core/format-deliveries.ts), which the server serves as this module (web-ui.ts).
import { describeContract } from './describe-contract.js';

const main = document.getElementById('main');
const flash = document.getElementById('flash');
const STATUSES = ['queued', 'publishing', 'delivered', 'failed', 'quarantined', 'skipped', 'superseded'];
let me = { user: undefined, role: 'viewer' };
let renderToken = 0;

const isOperator = () => me.role === 'operator';

/** Only fragment links and paths on this origin; anything else (javascript:, //host) becomes inert. */
function safeHref(href) {
  const value = String(href);
  if (value.startsWith('#') || (value.startsWith('/') && !value.startsWith('//'))) return value;
  return '#';
}

/** Element builder: attributes as strings, children as nodes or text (never parsed as HTML). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') el.className = value;
    else if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'href') el.setAttribute('href', safeHref(value));
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** fetch on this origin; options.json makes it a POST with a JSON body, options.body one with a raw body. */
async function api(path, options = {}) {
  const init = { credentials: 'same-origin', headers: { accept: 'application/json' } };
  if (options.json !== undefined) {
    init.method = 'POST';
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(options.json);
  } else if (options.body !== undefined) {
    init.method = 'POST';
    init.headers['content-type'] = options.type || 'application/octet-stream';
    init.body = options.body;
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    let message = (data && (data.error || data.message)) || text.trim() || res.statusText;
    if (data && typeof data.reason === 'string') message += ' (' + data.reason + ')';
    throw new ApiError(res.status, message);
  }
  return data;
}

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

function relative(date) {
  const seconds = (date.getTime() - Date.now()) / 1000;
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

/** A <time> with the local date and time, the ISO value on hover. */
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

const BADGE_KIND = {
  delivered: 'good',
  ok: 'good',
  enabled: 'good',
  open: 'good',
  failed: 'bad',
  missed: 'bad',
  'missing-export': 'bad',
  quarantined: 'bad',
  paused: 'warn',
  warning: 'warn',
  pending: 'info',
  queued: 'info',
  publishing: 'info',
  closed: 'warn',
};

function badge(text) {
  return h('span', { class: 'badge ' + (BADGE_KIND[text] || 'plain') }, text);
}

/** The error message without the code it starts with (the code is shown beside it). */
function errorText(d) {
  const message = d.lastError || '';
  return message.startsWith(d.lastErrorCode + ': ') ? message.slice(d.lastErrorCode.length + 2) : message;
}

function deliveryLink(id, text) {
  return h('a', { href: '#/deliveries/' + encodeURIComponent(id) }, text);
}

function boardLink(url, label) {
  if (!url) return h('span', { class: 'muted' }, '—');
  return h('a', { href: url, class: 'board', 'aria-label': label }, 'Bull Board');
}

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

function page(title, ...content) {
  document.title = title + ' · Ferry';
  return h('section', { 'aria-labelledby': 'page-title' }, h('h1', { id: 'page-title' }, title), content);
}

/** A submit handler that disables the form while the request runs and reports errors. */
function onSubmit(action) {
  return async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
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

function windowCell(w) {
  if (!w.configured) return h('span', { class: 'muted' }, 'any time');
  if (w.open) return [badge('open'), w.nextClose ? [' until ', time(w.nextClose)] : null];
  return [badge('closed'), w.nextOpen ? [' opens ', time(w.nextOpen, true)] : null];
}

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
        const reason = form.elements.reason.value.trim();
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
function staleSendForm(p, o, i) {
  return h(
    'form',
    {
      class: 'inline',
      'aria-label': 'Send ' + o.key,
      onsubmit: onSubmit(async (form) => {
        const reason = form.elements.reason.value.trim();
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

function partnerRow(p) {
  const last = p.lastDelivery;
  return h(
    'tr',
    { 'data-partner': p.id },
    h('th', { scope: 'row' }, h('a', { href: '#/deliveries?partner=' + encodeURIComponent(p.id) }, p.id)),
    h('td', {}, pauseCell(p)),
    h(
      'td',
      {},
      h('code', {}, p.schedule.cron),
      ' ',
      h('span', { class: 'muted' }, p.schedule.timezone),
      p.schedule.nextRun ? h('div', { class: 'detail' }, 'next ', time(p.schedule.nextRun, true)) : null,
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
    h('td', {}, sweepCell(p)),
    isOperator() ? h('td', {}, pauseForm(p)) : null,
  );
}

async function partnersPage() {
  const { partners } = await api('/api/partners');
  return page(
    'Partners',
    table(
      'Partners: state, schedule, window, SLA, recent deliveries and last sweep',
      [
        'Partner',
        'State',
        'Schedule',
        'Window',
        'SLA',
        'Last delivery',
        'Failed',
        'Delivered (24 h)',
        'Last sweep',
        isOperator() && 'Pause / resume',
      ],
      partners.map(partnerRow),
      'No partners configured.',
    ),
  );
}

// ---- deliveries -------------------------------------------------------------------------------

function toLocalInput(iso) {
  const date = new Date(iso);
  if (!iso || Number.isNaN(date.getTime())) return '';
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 16);
}

function deliveriesHash(params) {
  const clean = new URLSearchParams();
  for (const [k, v] of params) if (v) clean.set(k, v);
  const query = clean.toString();
  return '#/deliveries' + (query ? '?' + query : '');
}

function filterForm(params, partnerIds) {
  const field = (id, label, control) => h('div', { class: 'field' }, h('label', { for: id }, label), control);
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
      onsubmit: (event) => {
        event.preventDefault();
        const f = event.currentTarget.elements;
        const since = f.since.value ? new Date(f.since.value).toISOString() : '';
        location.hash = deliveriesHash(
          new URLSearchParams({
            q: f.q.value.trim(),
            partner: f.partner.value,
            status: f.status.value,
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
      h('select', { id: 'f-status', name: 'status' }, options(STATUSES, params.get('status'), 'any status')),
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

function deliveryRow(d) {
  return h(
    'tr',
    { 'data-delivery': d.id },
    h('td', {}, time(d.updatedAt)),
    h('td', {}, d.partnerId),
    h('td', { class: 'key' }, deliveryLink(d.id, d.key)),
    h('td', {}, badge(d.status)),
    h('td', { class: 'num' }, String(d.attempts ?? 0)),
    h('td', {}, d.lastErrorCode ? h('code', { title: d.lastError || '' }, d.lastErrorCode) : ''),
    h('td', {}, boardLink(d.boardUrl, 'Bull Board job for ' + d.key)),
  );
}

async function deliveriesPage(params) {
  const query = new URLSearchParams();
  for (const name of ['q', 'partner', 'status', 'since', 'until', 'cursor']) {
    const value = params.get(name);
    if (value) query.set(name, value);
  }
  query.set('limit', '50');
  const [list, partnerList] = await Promise.all([api('/api/deliveries?' + query), api('/api/partners')]);
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
      ['Updated', 'Partner', 'S3 key', 'Status', 'Attempts', 'Error', 'Job'],
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
function contractLines(receipt) {
  const lines = describeContract(receipt);
  return lines.length > 0 ? lines.map((line) => h('div', {}, line)) : undefined;
}

function fieldList(pairs) {
  return h(
    'dl',
    { class: 'fields' },
    pairs
      .filter(([, value]) => value !== undefined && value !== null && value !== '')
      .map(([name, value]) => [h('dt', {}, name), h('dd', {}, value)]),
  );
}

function redeliverForm(d) {
  return h(
    'form',
    {
      class: 'stacked',
      'aria-labelledby': 'redeliver-title',
      onsubmit: onSubmit(async (form) => {
        const reason = form.elements.reason.value.trim();
        const replace = form.elements.replace.checked;
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
function retryForm(d) {
  return h(
    'form',
    {
      class: 'stacked',
      'aria-labelledby': 'retry-title',
      onsubmit: onSubmit(async (form) => {
        const reason = form.elements.reason.value.trim();
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

async function deliveryPage(id) {
  let d;
  try {
    d = await api('/api/deliveries/' + encodeURIComponent(id));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      return page('Delivery not found', h('p', {}, 'No delivery has the id ', h('code', {}, id), '.'));
    }
    throw err;
  }
  const audit = Array.isArray(d.audit) ? d.audit : [];
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
      ['Last error', d.lastErrorCode ? [h('code', {}, d.lastErrorCode), ': ', errorText(d)] : d.lastError],
      ['Reason', d.reason],
      ['Created', time(d.createdAt)],
      ['Updated', time(d.updatedAt)],
      ['Delivered', d.deliveredAt ? time(d.deliveredAt) : undefined],
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
    // A failed delivery is retried, not redelivered (the API refuses that with 409).
    isOperator() ? (d.status === 'failed' ? retryForm(d) : redeliverForm(d)) : null,
  );
}

// ---- send a file now --------------------------------------------------------------------------

async function uploadPage() {
  if (!isOperator()) {
    return page('Send a file now', h('p', {}, 'Sending files needs an operator login.'));
  }
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
          const f = form.elements;
          const file = f.file.files[0];
          if (!file) throw new Error('Choose a CSV file.');
          const name = f.name.value.trim() || file.name;
          const query = new URLSearchParams({ partner: f.partner.value, name });
          const stored = await api('/api/upload?' + query, { body: file, type: 'text/csv' });
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
          say('Uploaded ' + name + ' for ' + f.partner.value + '.');
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
    if (link.dataset.nav === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
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
  document.getElementById('who').textContent = me.user ? me.user + ' (' + me.role + ')' : me.role;
  for (const el of document.querySelectorAll('[data-operator]')) el.hidden = !isOperator();
  window.addEventListener('hashchange', () => {
    clearFlash();
    void render();
  });
  await render();
}

void start();
