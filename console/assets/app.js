// The console's single page: a hash router (#/topics/orders) over one view per section. Each
// view renders into <main> and may register refreshers that stop when the page changes.
import { h, errorBox } from './lib.js';
import * as overview from './overview.js';
import * as topics from './topics.js';
import * as groups from './groups.js';
import * as connectors from './connectors.js';
import * as streams from './streams.js';

const routes = [
  [/^\/?$/, 'overview', overview.render],
  [/^\/topics\/?$/, 'topics', topics.renderList],
  [/^\/topics\/(.+)$/, 'topics', topics.renderTopic],
  [/^\/groups\/?$/, 'groups', groups.renderList],
  [/^\/groups\/(.+)$/, 'groups', groups.renderGroup],
  [/^\/connectors\/?$/, 'connectors', connectors.renderList],
  [/^\/connectors\/(.+)$/, 'connectors', connectors.renderConnector],
  [/^\/streams\/?$/, 'streams', streams.renderList],
  [/^\/streams\/(.+)$/, 'streams', streams.renderApp],
];

let timers = [];
let generation = 0;

async function route() {
  timers.forEach(clearInterval);
  document.getElementById('toast').replaceChildren();
  timers = [];
  const gen = ++generation;
  const path = location.hash.replace(/^#/, '') || '/';
  const main = document.getElementById('main');
  for (const [re, nav, view] of routes) {
    const m = path.match(re);
    if (!m) continue;
    document.querySelectorAll('#nav a').forEach((a) => a.classList.toggle('active', a.dataset.nav === nav));
    main.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
    const ctx = {
      // every runs fn now and then every ms while this page is shown; errors show in place.
      every(ms, fn) {
        const run = async () => { if (gen === generation) await fn(); };
        timers.push(setInterval(run, ms));
        return run();
      },
      live: () => gen === generation,
    };
    try {
      await view(main, m.slice(1).map(decodeURIComponent), ctx);
    } catch (e) {
      if (gen === generation) main.replaceChildren(errorBox(e));
    }
    return;
  }
  main.replaceChildren(h('h1', {}, 'Not found'), h('p', {}, 'No page at ' + path));
}

window.addEventListener('hashchange', route);
route();
