// The web UI's stylesheet (served as /ui/styles.css; see web-ui.ts).
export const stylesCss = String.raw`:root {
  --fg: #1d2430;
  --muted: #5c6675;
  --line: #d9dee5;
  --bg: #f6f7f9;
  --card: #fff;
  --accent: #1f5fbf;
  --good: #1c7a3e;
  --good-bg: #e3f4e8;
  --bad: #b3261e;
  --bad-bg: #fbe6e4;
  --warn: #8a5a00;
  --warn-bg: #fdf1d6;
  --info: #1f5fbf;
  --info-bg: #e5eefb;
  font-family:
    system-ui,
    -apple-system,
    'Segoe UI',
    Roboto,
    sans-serif;
  font-size: 15px;
  line-height: 1.45;
  color: var(--fg);
  background: var(--bg);
}

body {
  margin: 0;
}

a {
  color: var(--accent);
}

a:focus-visible,
button:focus-visible,
input:focus-visible,
select:focus-visible,
textarea:focus-visible {
  outline: 2px solid var(--accent);
  outline-offset: 2px;
}

.skip {
  position: absolute;
  left: -9999px;
}

.skip:focus {
  left: 1rem;
  top: 0.5rem;
  background: var(--card);
  padding: 0.25rem 0.5rem;
}

.visually-hidden {
  position: absolute;
  width: 1px;
  height: 1px;
  overflow: hidden;
  clip-path: inset(50%);
  white-space: nowrap;
}

.top {
  display: flex;
  align-items: center;
  gap: 1.5rem;
  padding: 0.6rem 1.5rem;
  background: #16202e;
  color: #fff;
}

.brand {
  font-weight: 700;
  letter-spacing: 0.02em;
}

.top nav {
  display: flex;
  gap: 1rem;
  flex: 1;
}

.top nav a {
  color: #cfd8e6;
  text-decoration: none;
  padding: 0.2rem 0;
  border-bottom: 2px solid transparent;
}

.top nav a[aria-current='page'] {
  color: #fff;
  border-bottom-color: #7fb0ff;
}

.who {
  color: #cfd8e6;
  font-size: 0.9em;
}

main {
  padding: 1rem 1.5rem 3rem;
  max-width: 1400px;
}

h1 {
  font-size: 1.4rem;
  margin: 0.5rem 0 1rem;
}

h2 {
  font-size: 1.1rem;
  margin: 1.5rem 0 0.5rem;
}

.flash:empty {
  display: none;
}

.flash {
  margin: 0.75rem 1.5rem 0;
  padding: 0.5rem 0.75rem;
  border-radius: 4px;
}

.flash.ok {
  background: var(--good-bg);
  color: var(--good);
}

.flash.error {
  background: var(--bad-bg);
  color: var(--bad);
}

.muted {
  color: var(--muted);
}

.detail {
  font-size: 0.88em;
  color: var(--muted);
}

.bad-text {
  color: var(--bad);
  font-weight: 600;
}

.table-wrap {
  overflow-x: auto;
  background: var(--card);
  border: 1px solid var(--line);
  border-radius: 6px;
}

table {
  border-collapse: collapse;
  width: 100%;
}

th,
td {
  text-align: left;
  vertical-align: top;
  padding: 0.5rem 0.75rem;
  border-bottom: 1px solid var(--line);
}

thead th {
  font-size: 0.85em;
  color: var(--muted);
  font-weight: 600;
  background: #fafbfc;
}

tbody tr:last-child > * {
  border-bottom: none;
}

td.num {
  text-align: right;
  font-variant-numeric: tabular-nums;
}

.key {
  font-family: ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace;
  font-size: 0.9em;
  word-break: break-all;
}

.lead {
  font-size: 1rem;
}

code {
  font-family: ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace;
  font-size: 0.92em;
}

.badge {
  display: inline-block;
  padding: 0.05rem 0.45rem;
  border-radius: 999px;
  font-size: 0.82em;
  font-weight: 600;
  background: #eceff3;
  color: var(--fg);
}

.badge.good {
  background: var(--good-bg);
  color: var(--good);
}

.badge.bad {
  background: var(--bad-bg);
  color: var(--bad);
}

.badge.warn {
  background: var(--warn-bg);
  color: var(--warn);
}

.badge.info {
  background: var(--info-bg);
  color: var(--info);
}

ul.stale {
  margin: 0.25rem 0 0;
  padding-left: 1rem;
}

ul.stale li {
  margin: 0.3rem 0;
}

form.inline {
  display: flex;
  gap: 0.4rem;
  align-items: center;
}

form.inline label {
  position: absolute;
  width: 1px;
  height: 1px;
  overflow: hidden;
  clip-path: inset(50%);
}

form.inline input {
  width: 11rem;
}

form.stacked {
  display: grid;
  gap: 0.4rem;
  max-width: 36rem;
  background: var(--card);
  border: 1px solid var(--line);
  border-radius: 6px;
  padding: 0.75rem 1rem 1rem;
  margin-top: 1rem;
}

form.stacked h2 {
  margin-top: 0.25rem;
}

form.stacked label {
  font-weight: 600;
  margin-top: 0.4rem;
}

form.stacked label.check {
  font-weight: normal;
}

form.stacked button {
  justify-self: start;
  margin-top: 0.5rem;
}

.filters {
  display: flex;
  flex-wrap: wrap;
  gap: 0.75rem;
  align-items: flex-end;
  margin-bottom: 0.75rem;
}

.field {
  display: grid;
  gap: 0.2rem;
}

.field label {
  font-size: 0.85em;
  color: var(--muted);
}

.field.actions {
  display: flex;
  gap: 0.75rem;
  align-items: center;
}

#f-q {
  width: 20rem;
}

input,
select,
textarea,
button {
  font: inherit;
}

input,
select,
textarea {
  padding: 0.3rem 0.45rem;
  border: 1px solid #b8c0cc;
  border-radius: 4px;
  background: #fff;
}

button {
  padding: 0.3rem 0.9rem;
  border: 1px solid var(--accent);
  border-radius: 4px;
  background: var(--accent);
  color: #fff;
  cursor: pointer;
}

button:disabled {
  opacity: 0.6;
  cursor: progress;
}

.pager {
  display: flex;
  gap: 1.5rem;
  margin-top: 0.75rem;
}

dl.fields {
  display: grid;
  grid-template-columns: max-content 1fr;
  gap: 0.35rem 1.25rem;
  background: var(--card);
  border: 1px solid var(--line);
  border-radius: 6px;
  padding: 0.75rem 1rem;
  margin: 0;
}

dl.fields dt {
  color: var(--muted);
}

dl.fields dd {
  margin: 0;
  word-break: break-all;
}

pre.receipt {
  background: var(--card);
  border: 1px solid var(--line);
  border-radius: 6px;
  padding: 0.75rem 1rem;
  overflow-x: auto;
  font-size: 0.85em;
}
`;
