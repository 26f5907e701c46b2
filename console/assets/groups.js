// Consumer groups: the list with lag; a group's members, lag per partition now and over time,
// and offset resets planned first, executed after confirmation (refused on an active group).
import { h, api, table, num, link, enc, state, toast, errorBox } from './lib.js';
import { lineChart, sparkline } from './charts.js';

export async function renderList(main, _p, ctx) {
  const body = h('div', {});
  main.replaceChildren(h('h1', {}, 'Consumer groups'), body);
  await ctx.every(3000, async () => {
    try {
      const r = await api('GET', '/groups');
      body.replaceChildren(r.groups.length === 0 ? h('p', { class: 'muted' }, 'No consumer groups.')
        : table('groups', ['Group', 'State', 'Protocol type', 'Members', 'Lag'], r.groups.map((g) => [
          link('#/groups/' + enc(g.group), g.group), state(g.state), g.protocolType, num(g.members), g.lag < 0 ? (g.error || '?') : num(g.lag)])));
    } catch (e) { body.replaceChildren(errorBox(e)); }
  });
}

export async function renderGroup(main, [group], ctx) {
  const live = h('div', {});
  main.replaceChildren(h('h1', {}, 'Group ', group), live, h('h2', {}, 'Reset offsets'), resetForm(group));
  await ctx.every(1000, async () => {
    let g;
    try { g = await api('GET', '/groups/' + enc(group)); } catch (e) { live.replaceChildren(errorBox(e)); return; }
    live.replaceChildren(
      h('div', { class: 'cards' },
        h('div', { class: 'card' }, h('div', { class: 'muted' }, 'State'), h('div', { 'data-testid': 'group-state' }, state(g.state))),
        h('div', { class: 'card' }, h('div', { class: 'muted' }, 'Total lag'), h('div', { class: 'n', 'data-testid': 'group-lag' }, String(g.lag))),
        h('div', { class: 'card' }, h('div', { class: 'muted' }, 'Members'), h('div', { class: 'n' }, g.members.length)),
        h('div', { class: 'card' }, h('div', { class: 'muted' }, 'Protocol'), h('div', {}, `${g.protocolType || '—'} / ${g.protocol || '—'}`))),
      h('h2', {}, 'Lag over time'), lineChart(g.lagHistory, { label: 'total lag' }),
      h('h2', {}, 'Partitions'),
      table('group-partitions', ['Topic', '#', 'Committed', 'End offset', 'Lag', 'Lag trend', 'Member'], g.partitions.map((p) => [
        link('#/topics/' + enc(p.topic), p.topic), num(p.partition), num(p.committed), num(p.end), p.error ? { v: p.error, class: 'error' } : num(p.lag),
        sparkline((g.partitionLagHistory || {})[`${p.topic}/${p.partition}`]), p.clientId || ''])),
      h('h2', {}, 'Members'),
      g.members.length === 0 ? h('p', { class: 'muted' }, 'No active members.')
        : table('members', ['Client id', 'Host', 'Member id', 'Assigned'], g.members.map((m) => [m.clientId, m.host, m.memberId,
          Object.entries(m.assigned).map(([t, ps]) => `${t}: ${ps.join(',')}`).join('; ')])));
  });
}

function resetForm(group) {
  const strategy = h('select', { 'data-testid': 'reset-strategy' }, ['earliest', 'latest', 'offset', 'shift-by', 'datetime', 'duration', 'current'].map((s) => h('option', { value: s }, s)));
  const value = h('input', { placeholder: 'offset, delta, 2026-01-31T12:00:00.000 or PT1H', style: 'width:260px' });
  const topics = h('input', { placeholder: 'orders payments:0,1 (empty: every committed partition)', style: 'width:300px' });
  const out = h('div', { 'data-testid': 'reset-plan' });
  const body = () => ({ strategy: strategy.value, value: value.value, topics: topics.value.split(/\s+/).filter(Boolean) });
  const form = h('form', { onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const r = await api('POST', `/groups/${enc(group)}/reset-offsets`, body());
      out.replaceChildren(table('plan', ['Topic', '#', 'Current', 'New'], r.plan.map((p) => [p.topic, num(p.partition), num(p.current), num(p.new)])),
        h('button', { class: 'danger', 'data-testid': 'reset-execute', onclick: async () => {
          if (!confirm(`Commit these offsets for group ${group}?`)) return;
          try { await api('POST', `/groups/${enc(group)}/reset-offsets`, { ...body(), execute: true }); toast('Offsets reset'); out.replaceChildren(); } catch (e) { out.replaceChildren(errorBox(e)); }
        } }, 'Execute reset'));
    } catch (e) { out.replaceChildren(errorBox(e)); }
  } }, h('label', {}, 'Strategy', strategy), h('label', {}, 'Value', value), h('label', {}, 'Topics (space-separated)', topics), h('button', { 'data-testid': 'reset-plan-button' }, 'Plan'));
  return h('div', {}, form, out);
}
