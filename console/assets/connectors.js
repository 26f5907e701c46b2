// Connectors, through Kafka Connect's REST API: status, tasks with traces, config, create from
// JSON, pause/resume/restart/stop/delete. Without Connect the page says why.
import { h, api, table, link, enc, state, toast, errorBox } from './lib.js';

const absent = (e) => h('div', { class: 'notice', 'data-testid': 'connect-absent' }, e.message);

export async function renderList(main, _p, ctx) {
  const body = h('div', {});
  const json = h('textarea', { rows: 8, cols: 70, 'data-testid': 'connector-json',
    placeholder: '{"name": "my-source", "config": {"connector.class": "FileStreamSource", "file": "/tmp/in.txt", "topic": "lines"}}' });
  const create = h('form', { onsubmit: async (ev) => {
    ev.preventDefault();
    try { const r = await api('POST', '/connectors', json.value); toast(`Connector ${r.name} created`); location.hash = '#/connectors/' + enc(r.name); } catch (e) { toast(e.message, true); }
  } }, h('label', {}, 'Connector JSON', json), h('button', {}, 'Create connector'));
  main.replaceChildren(h('h1', {}, 'Connectors'), body, h('h2', {}, 'Create from JSON'), create);
  await ctx.every(3000, async () => {
    try {
      const r = await api('GET', '/connectors');
      body.replaceChildren(h('p', { class: 'muted' }, 'Kafka Connect at ' + r.url),
        r.connectors.length === 0 ? h('p', { class: 'muted' }, 'No connectors.')
          : table('connectors', ['Name', 'Type', 'Class', 'State', 'Tasks'], r.connectors.map((c) => [
            link('#/connectors/' + enc(c.name), c.name), c.type, c.class || '', state(c.status.connector.state),
            h('span', {}, (c.status.tasks || []).map((t) => h('span', {}, `#${t.id} `, state(t.state), ' ')))])));
    } catch (e) { body.replaceChildren(e.status === 503 ? absent(e) : errorBox(e)); }
  });
}

export async function renderConnector(main, [name], ctx) {
  const live = h('div', {});
  const act = (action, label, cls) => h('button', { class: cls || 'secondary', 'data-testid': 'action-' + action, onclick: async () => {
    if ((action === 'delete' || action === 'stop') && !confirm(`${label} connector ${name}?`)) return;
    try {
      if (action === 'delete') { await api('DELETE', '/connectors/' + enc(name)); toast(`Connector ${name} deleted`); location.hash = '#/connectors'; return; }
      await api('POST', `/connectors/${enc(name)}/${action}`);
      toast(`${label}: sent`);
      refresh();
    } catch (e) { toast(e.message, true); }
  } }, label);
  main.replaceChildren(h('h1', {}, 'Connector ', name),
    h('div', { class: 'pager' }, act('pause', 'Pause'), act('resume', 'Resume'), act('restart', 'Restart'), act('stop', 'Stop'), act('delete', 'Delete', 'danger')), live);
  const refresh = async () => {
    try {
      const c = await api('GET', '/connectors/' + enc(name));
      live.replaceChildren(
        h('div', { class: 'cards' }, h('div', { class: 'card' }, h('div', { class: 'muted' }, 'Connector'),
          h('div', { 'data-testid': 'connector-state' }, state(c.status.connector.state)), h('div', { class: 'muted' }, c.status.connector.worker_id))),
        c.status.connector.trace ? h('pre', { class: 'error' }, c.status.connector.trace) : '',
        h('h2', {}, 'Tasks'),
        table('tasks', ['Task', 'State', 'Worker', 'Trace'], (c.status.tasks || []).map((t) => [String(t.id),
          h('span', { 'data-testid': 'task-state' }, state(t.state)), t.worker_id, t.trace ? h('pre', { class: 'error' }, t.trace) : ''])),
        h('h2', {}, 'Config'), h('pre', { 'data-testid': 'connector-config' }, JSON.stringify(c.config, null, 2)));
    } catch (e) { live.replaceChildren(e.status === 503 ? absent(e) : errorBox(e)); }
  };
  await ctx.every(2000, refresh);
}
