// Overview: cluster, brokers, counts, connectors, streams apps and throughput sparklines.
import { h, api, table, num, link, errorBox } from './lib.js';
import { sparkline } from './charts.js';

export async function render(main, _params, ctx) {
  const body = h('div', {});
  main.replaceChildren(h('h1', {}, 'Overview'), body);
  await ctx.every(3000, async () => {
    let o;
    try { o = await api('GET', '/overview'); } catch (e) { body.replaceChildren(errorBox(e)); return; }
    const c = o.connect || {};
    const connect = c.available
      ? h('div', { class: 'card' }, h('div', { class: 'n' }, c.connectors), link('#/connectors', 'connectors'),
        h('div', { class: 'muted' }, Object.entries(c.states || {}).map(([s, n]) => `${n} ${s}`).join(', ')))
      : h('div', { class: 'card', 'data-testid': 'connect-absent' }, h('div', { class: 'muted' }, 'Kafka Connect'), h('div', {}, c.error));
    const tp = o.throughput || {};
    body.replaceChildren(
      h('div', { class: 'cards' },
        h('div', { class: 'card' }, h('div', { class: 'muted' }, 'Cluster'), h('div', {}, o.clusterId || '—')),
        h('div', { class: 'card' }, h('div', { class: 'n' }, o.brokers.length), 'brokers'),
        h('div', { class: 'card' }, h('div', { class: 'n' }, o.topics), link('#/topics', 'topics'), h('div', { class: 'muted' }, `${o.partitions} partitions`),
          h('div', { class: o.underReplicatedPartitions + o.offlinePartitions > 0 ? 'error' : 'muted', 'data-testid': 'partition-health' },
            `${o.underReplicatedPartitions} under-replicated, ${o.offlinePartitions} offline`)),
        h('div', { class: 'card' }, h('div', { class: 'n' }, o.groups ?? '?'), link('#/groups', 'consumer groups'),
          h('div', { class: 'muted' }, Object.entries(o.groupStates || {}).map(([s, n]) => `${n} ${s}`).join(', '))),
        connect,
        h('div', { class: 'card' }, h('div', { class: 'n' }, o.streamsApps), link('#/streams', 'streams apps')),
        h('div', { class: 'card' }, h('div', { class: 'muted' }, 'Records in / s'), h('div', { class: 'n' },
          tp.total && tp.total.length ? Math.round(tp.total[tp.total.length - 1].v).toLocaleString('en') : '0'), sparkline(tp.total, 180, 32)),
      ),
      h('h2', {}, 'Brokers'),
      table('brokers', ['Node', 'Host', 'Port', 'Rack', 'Controller'], o.brokers.map((b) =>
        [String(b.nodeId), b.host, String(b.port), b.rack || '', b.controller ? 'yes' : ''])),
      h('h2', {}, 'Busiest topics'),
      (tp.top || []).length === 0 ? h('p', { class: 'muted' }, 'No records produced in the last samples.')
        : table('throughput', ['Topic', 'Records/s', 'Last samples'], tp.top.map((t) => {
          const ps = tp.topics[t];
          return [link('#/topics/' + encodeURIComponent(t), t), num(Math.round(ps[ps.length - 1].v)), sparkline(ps)];
        })),
    );
  });
}
