// Small DOM and API helpers shared by the views.

// h builds an element: h('td', {class: 'num'}, 'text', otherNode). Strings become text nodes,
// so nothing from the cluster is ever parsed as HTML.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// APIError carries the API's {"error"} message and HTTP status.
export class APIError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// api calls the console's JSON API; it throws APIError with the server's message.
export async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch('/api' + path, opts);
  } catch (e) {
    throw new APIError(0, 'the console is unreachable: ' + e.message);
  }
  let data = {};
  try { data = await resp.json(); } catch { /* empty or not JSON */ }
  if (!resp.ok) throw new APIError(resp.status, data.error || resp.statusText);
  return data;
}

// toast shows a short message in the corner.
export function toast(msg, isError) {
  const el = h('div', { class: isError ? 'error' : '' }, msg);
  document.getElementById('toast').append(el);
  setTimeout(() => el.remove(), isError ? 8000 : 4000);
}

// table builds a table from column heads and rows of cells (a cell is a node, a string, or
// {v, class}).
export function table(id, heads, rows) {
  return h('table', { 'data-testid': id },
    h('thead', {}, h('tr', {}, heads.map((x) => h('th', { class: /^#|lag|offset|size|rate|members|partitions|end|start|committed/i.test(x) ? 'num' : '' }, x)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => (c && typeof c === 'object' && !(c instanceof Node))
      ? h('td', { class: c.class }, c.v) : h('td', {}, c))))));
}

export const num = (v) => ({ v: v === undefined || v === null ? '' : Number(v).toLocaleString('en'), class: 'num' });

export function bytes(n) {
  if (n < 0) return 'n/a';
  if (n < 1024) return n + ' B';
  const u = ['KiB', 'MiB', 'GiB', 'TiB'];
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < u.length - 1);
  return n.toFixed(1) + ' ' + u[i];
}

export const state = (s) => h('span', { class: 'state-' + s }, s);
export const link = (href, text) => h('a', { href }, text);
export const enc = encodeURIComponent;
export const errorBox = (e) => h('p', { class: 'error', 'data-testid': 'error' }, e.message || String(e));
