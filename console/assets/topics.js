// Topics: a paged list with a filter and a create form; a topic's partitions, configs (edited
// with a reviewed plan), message browser and produce form.
import { h, api, table, num, bytes, link, enc, toast, errorBox } from './lib.js';
import { sparkline } from './charts.js';

const PAGE = 50;

export async function renderList(main) {
  let page = 1;
  const q = h('input', { type: 'search', placeholder: 'filter by name', 'data-testid': 'topic-filter' });
  const internal = h('input', { type: 'checkbox' });
  const list = h('div', {});
  const load = async () => {
    let r;
    try {
      r = await api('GET', `/topics?page=${page}&size=${PAGE}&q=${enc(q.value)}&internal=${internal.checked}`);
    } catch (e) { list.replaceChildren(errorBox(e)); return; }
    const pages = Math.max(1, Math.ceil(r.total / PAGE));
    list.replaceChildren(
      h('div', { class: 'pager' },
        h('button', { class: 'secondary', disabled: page <= 1, onclick: () => { page--; load(); } }, '‹ Prev'),
        h('span', { 'data-testid': 'topics-total' }, `page ${page} of ${pages} · ${r.total.toLocaleString('en')} topics`),
        h('button', { class: 'secondary', disabled: page >= pages, onclick: () => { page++; load(); } }, 'Next ›')),
      table('topics', ['Name', 'Partitions', 'Replication', 'Under-replicated'], r.topics.map((t) => [
        link('#/topics/' + enc(t.name), t.name), num(t.partitions), num(t.replicationFactor), num(t.underReplicated)])));
  };
  q.addEventListener('input', () => { page = 1; load(); });
  internal.addEventListener('change', () => { page = 1; load(); });
  const name = h('input', { name: 'name', required: true, placeholder: 'orders' });
  const parts = h('input', { name: 'partitions', type: 'number', min: 1, value: '1', style: 'width:80px' });
  const rf = h('input', { name: 'rf', type: 'number', min: 1, value: '1', style: 'width:80px' });
  const create = h('form', { 'data-testid': 'create-topic', onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      await api('POST', '/topics', { name: name.value, partitions: +parts.value, replicationFactor: +rf.value });
      toast(`Topic ${name.value} created`);
      location.hash = '#/topics/' + enc(name.value);
    } catch (e) { toast(e.message, true); }
  } }, h('label', {}, 'Name', name), h('label', {}, 'Partitions', parts), h('label', {}, 'Replication factor', rf), h('button', {}, 'Create topic'));
  main.replaceChildren(h('h1', {}, 'Topics'), h('div', { class: 'pager' }, q, h('label', { style: 'flex-direction:row;align-items:center' }, internal, 'internal topics')),
    list, h('h2', {}, 'Create a topic'), create);
  await load();
}

export async function renderTopic(main, [topic], ctx) {
  const info = h('div', {});
  const configs = h('div', {});
  const browser = h('div', {});
  main.replaceChildren(
    h('h1', {}, 'Topic ', h('span', { 'data-testid': 'topic-name' }, topic)),
    info, h('h2', {}, 'Messages'), browser, h('h2', {}, 'Configs'), configs,
    h('h2', {}, 'Danger zone'), h('button', { class: 'danger', onclick: async () => {
      const typed = prompt(`Delete topic ${topic} and all its records? Type its name to confirm.`);
      if (typed === null) return;
      try { await api('DELETE', `/topics/${enc(topic)}?confirm=${enc(typed)}`); toast(`Topic ${topic} deleted`); location.hash = '#/topics'; } catch (e) { toast(e.message, true); }
    } }, 'Delete topic…'));
  let t;
  const loadInfo = async () => {
    try { t = await api('GET', '/topics/' + enc(topic)); } catch (e) { info.replaceChildren(errorBox(e)); return; }
    info.replaceChildren(
      h('div', { class: 'cards' },
        h('div', { class: 'card' }, h('div', { class: 'n' }, t.partitions.length), 'partitions'),
        h('div', { class: 'card', title: t.sizeError || '' }, h('div', { class: 'n' }, bytes(t.sizeBytes)), 'on disk'),
        h('div', { class: 'card' }, h('div', { class: 'muted' }, 'Records in / s'), sparkline(t.throughput, 180, 32))),
      table('partitions', ['#', 'Leader', 'Replicas', 'ISR', 'Start offset', 'End offset', 'Size'], t.partitions.map((p) => [
        num(p.partition), String(p.leader), p.replicas.join(', '), p.isr.join(', '), num(p.startOffset), num(p.endOffset), { v: bytes(p.sizeBytes), class: 'num' }])));
  };
  await loadInfo();
  if (!t) return;
  ctx.every(5000, loadInfo);
  browser.replaceChildren(messageBrowser(topic, t.partitions.length));
  configs.replaceChildren(configEditor(topic, t.configs));
}

function messageBrowser(topic, nparts) {
  const partition = h('select', { 'data-testid': 'browse-partition' }, h('option', { value: '-1' }, 'all'),
    Array.from({ length: nparts }, (_, i) => h('option', { value: String(i) }, String(i))));
  const from = h('select', { 'data-testid': 'browse-from' }, ['newest', 'oldest', 'offset', 'timestamp'].map((f) => h('option', { value: f }, f)));
  const at = h('input', { placeholder: 'offset, or time (2026-01-31T12:00 / ms)', style: 'width:230px', 'data-testid': 'browse-at' });
  const limit = h('input', { type: 'number', value: '50', min: 1, max: 500, style: 'width:70px' });
  const key = h('input', { placeholder: 'key contains', 'data-testid': 'filter-key' });
  const value = h('input', { placeholder: 'value contains', 'data-testid': 'filter-value' });
  const header = h('input', { placeholder: 'header name[=value]', 'data-testid': 'filter-header' });
  const out = h('div', { 'data-testid': 'messages' });
  const load = async () => {
    let qs = `from=${from.value}&partition=${partition.value}&limit=${limit.value}&key=${enc(key.value)}&value=${enc(value.value)}&header=${enc(header.value)}`;
    if (from.value === 'offset') qs += `&offset=${enc(at.value.trim())}`;
    if (from.value === 'timestamp') {
      const v = at.value.trim();
      const ms = /^\d+$/.test(v) ? v : String(Date.parse(v));
      qs += `&timestamp=${enc(ms === 'NaN' ? v : ms)}`;
    }
    try {
      const r = await api('GET', `/topics/${enc(topic)}/messages?${qs}`);
      out.replaceChildren(h('p', { class: 'muted' }, `${r.records.length} records (${r.scanned} read)`),
        table('records', ['Partition', 'Offset', 'Timestamp', 'Key', 'Value', 'Headers'], r.records.map((m) => [
          num(m.partition), num(m.offset), new Date(m.timestamp).toISOString(), field(m.key), field(m.value),
          h('div', {}, m.headers.map((x) => h('div', {}, x.key + ': ', field(x.value))))])));
    } catch (e) { out.replaceChildren(errorBox(e)); }
  };
  const pKey = h('input', { placeholder: 'key (optional)', 'data-testid': 'produce-key' });
  const pValue = h('textarea', { rows: 3, cols: 50, placeholder: '{"hello": "gregor"}', 'data-testid': 'produce-value' });
  const pHeaders = h('textarea', { rows: 3, cols: 24, placeholder: 'name=value per line', 'data-testid': 'produce-headers' });
  const pPart = h('select', {}, h('option', { value: '' }, 'by key'), Array.from({ length: nparts }, (_, i) => h('option', { value: String(i) }, String(i))));
  const produce = h('form', { 'data-testid': 'produce-form', onsubmit: async (ev) => {
    ev.preventDefault();
    const headers = {};
    for (const line of pHeaders.value.split('\n')) {
      if (!line.trim()) continue;
      const i = line.indexOf('=');
      headers[i < 0 ? line.trim() : line.slice(0, i).trim()] = i < 0 ? '' : line.slice(i + 1);
    }
    const body = { value: pValue.value, headers };
    if (pKey.value !== '') body.key = pKey.value;
    if (pPart.value !== '') body.partition = +pPart.value;
    try {
      const r = await api('POST', `/topics/${enc(topic)}/messages`, body);
      toast(`Produced to partition ${r.partition} at offset ${r.offset}`);
      from.value = 'newest';
      await load();
    } catch (e) { toast(e.message, true); }
  } }, h('label', {}, 'Partition', pPart), h('label', {}, 'Key', pKey), h('label', {}, 'Value', pValue), h('label', {}, 'Headers', pHeaders),
  h('button', { 'data-testid': 'produce-submit' }, 'Produce'));
  const form = h('form', { 'data-testid': 'browse-form', onsubmit: (ev) => { ev.preventDefault(); load(); } },
    h('label', {}, 'Partition', partition), h('label', {}, 'From', from), h('label', {}, 'Offset / time', at), h('label', {}, 'Limit', limit),
    h('label', {}, 'Key', key), h('label', {}, 'Value', value), h('label', {}, 'Header', header), h('button', { 'data-testid': 'browse-load' }, 'Load'));
  load();
  return h('div', {}, form, out, h('h2', {}, 'Produce a record'), produce);
}

// field shows a rendered key, value or header: JSON pretty, hex, text, or Debezium before/after.
function field(f) {
  switch (f.format) {
    case 'null': return h('span', { class: 'muted' }, 'null');
    case 'hex': return h('pre', { class: 'hex', title: `${f.size} bytes, binary` }, f.text);
    case 'debezium': {
      const ops = { c: 'create', u: 'update', d: 'delete', r: 'read (snapshot)', t: 'truncate' };
      const pretty = (v) => (v === undefined || v === null ? 'null' : JSON.stringify(v, null, 2));
      return h('div', { class: 'dbz', 'data-testid': 'debezium' }, h('div', { class: 'op' }, `Debezium ${ops[f.op] || f.op}`),
        h('div', {}, h('div', { class: 'muted' }, 'before'), h('pre', {}, pretty(f.before))),
        h('div', {}, h('div', { class: 'muted' }, 'after'), h('pre', {}, pretty(f.after))));
    }
    default: return h('pre', {}, f.text);
  }
}

function configEditor(topic, configs) {
  const inputs = new Map();
  const plan = h('div', {});
  const rows = configs.map((c) => {
    const input = h('input', { value: c.sensitive ? '' : (c.value ?? ''), style: 'width:260px', 'data-config': c.name });
    inputs.set(c.name, { input, orig: c.value ?? '' });
    return [c.name, input, h('span', { class: 'muted' }, c.source)];
  });
  const changes = () => {
    const set = {};
    for (const [name, { input, orig }] of inputs) if (input.value !== orig) set[name] = input.value;
    return set;
  };
  const review = h('button', { 'data-testid': 'config-review', onclick: async () => {
    const set = changes();
    if (Object.keys(set).length === 0) { toast('Nothing changed'); return; }
    try {
      const r = await api('PUT', `/topics/${enc(topic)}/configs`, { set });
      plan.replaceChildren(table('config-plan', ['Config', 'From', 'To'], r.changes.map((c) => [c.name, c.from ?? '(default)', c.to ?? '(default)'])),
        h('button', { class: 'danger', 'data-testid': 'config-apply', onclick: async () => {
          if (!confirm(`Apply ${r.changes.length} config change(s) to ${topic}?`)) return;
          try { await api('PUT', `/topics/${enc(topic)}/configs`, { set, confirm: true }); toast('Configs applied'); plan.replaceChildren(); } catch (e) { toast(e.message, true); }
        } }, 'Apply changes'));
    } catch (e) { plan.replaceChildren(errorBox(e)); }
  } }, 'Review changes');
  return h('div', {}, table('configs', ['Name', 'Value', 'Source'], rows), review, plan);
}
