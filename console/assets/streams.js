// Streams applications, from the compacted topic __gregor_streams_apps: each application's
// topology as a graph with live per-node throughput and lag.
import { h, api, table, link, enc, errorBox } from './lib.js';
import { drawTopology, legend } from './graph.js';

export async function renderList(main, _p, ctx) {
  const body = h('div', {});
  main.replaceChildren(h('h1', {}, 'Streams applications'), body);
  await ctx.every(3000, async () => {
    try {
      const r = await api('GET', '/streams');
      body.replaceChildren(r.applications.length === 0
        ? h('p', { class: 'muted' }, `No streams application publishes to ${r.topic} yet.`)
        : table('apps', ['Application', 'Instances', 'States', 'Updated'], r.applications.map((a) => [
          link('#/streams/' + enc(a.applicationId), a.applicationId), String(a.instances),
          Object.entries(a.states).map(([s, n]) => `${n} ${s}`).join(', '), new Date(a.updatedMs).toISOString()])));
    } catch (e) { body.replaceChildren(errorBox(e)); }
  });
}

export async function renderApp(main, [app], ctx) {
  const body = h('div', {});
  main.replaceChildren(h('h1', {}, 'Streams application ', app), body);
  await ctx.every(3000, async () => {
    try {
      const a = await api('GET', '/streams/' + enc(app));
      body.replaceChildren(legend(h), h('div', { style: 'overflow:auto' }, drawTopology(a.graph)),
        h('h2', {}, 'Instances'), table('instances', ['Instance', 'State', 'Updated'], a.instances.map((i) => [i.instanceId, i.state, new Date(i.updatedMs).toISOString()])));
    } catch (e) { body.replaceChildren(errorBox(e)); }
  });
}
