// Topology graph: a layered top-to-bottom layout (rank = longest path from a node without
// inputs, order within a rank by the mean position of its predecessors, each rank centred),
// drawn as SVG. NB: top-to-bottom, because streams topologies are long chains: left-to-right
// they would not fit a screen's width.
import { s } from './charts.js';

const COLORS = {
  source: '#d7e6ff', processor: '#e6f4ea', sink: '#ffe8d6', store: '#f3e5f5',
  topic: '#eef0f4', repartition: '#fff4c2', changelog: '#fde2e2',
};
export const KINDS = Object.keys(COLORS);
const W = 230, H = 40, GX = 24, GY = 34;

// layout returns {pos: id -> {x, y}, width, height}.
export function layout(nodes, edges) {
  const ids = nodes.map((n) => n.id);
  const preds = new Map(ids.map((id) => [id, []]));
  for (const e of edges) if (preds.has(e.to) && preds.has(e.from)) preds.get(e.to).push(e.from);
  const rank = new Map(ids.map((id) => [id, 0]));
  // Longest path by relaxation; bounded by the node count, so a cycle cannot loop forever.
  for (let i = 0; i < ids.length; i++) {
    let changed = false;
    for (const e of edges) {
      if (!rank.has(e.from) || !rank.has(e.to)) continue;
      if (rank.get(e.to) < rank.get(e.from) + 1 && rank.get(e.from) + 1 < ids.length) {
        rank.set(e.to, rank.get(e.from) + 1);
        changed = true;
      }
    }
    if (!changed) break;
  }
  const cols = [];
  for (const id of ids) (cols[rank.get(id)] ||= []).push(id);
  const pos = new Map();
  const widest = Math.max(1, ...cols.map((c) => (c ? c.length : 0)));
  const width = 20 + widest * (W + GX) - GX;
  cols.forEach((col, c) => {
    if (!col) return;
    const key = (id) => {
      const ps = preds.get(id).filter((p) => pos.has(p));
      return ps.length ? ps.reduce((a, p) => a + pos.get(p).x, 0) / ps.length : Infinity;
    };
    col.sort((a, b) => key(a) - key(b));
    const offset = (width - (col.length * (W + GX) - GX)) / 2;
    col.forEach((id, r) => pos.set(id, { x: offset + r * (W + GX), y: 10 + c * (H + GY) }));
  });
  const height = 20 + cols.length * (H + GY) - GY;
  return { pos, width, height };
}

const fmt = (v) => (v >= 100 ? Math.round(v) : Math.round(v * 10) / 10).toLocaleString('en');
const cut = (t, n) => (t.length > n ? t.slice(0, n - 1) + '…' : t);

// drawTopology renders the API's graph {nodes, edges}.
export function drawTopology(graph) {
  const { pos, width, height } = layout(graph.nodes, graph.edges);
  const svg = s('svg', { class: 'topology', width, height, viewBox: `0 0 ${width} ${height}`,
    'data-testid': 'topology', 'data-nodes': graph.nodes.length, 'data-edges': graph.edges.length });
  svg.append(s('defs', {}, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
    s('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#8a93a6' }))));
  for (const e of graph.edges) {
    const a = pos.get(e.from), b = pos.get(e.to);
    if (!a || !b) continue;
    const x1 = a.x + W / 2, y1 = a.y + H, x2 = b.x + W / 2, y2 = b.y, my = (y1 + y2) / 2;
    svg.append(s('path', { class: 'edge', d: `M${x1},${y1} C${x1},${my} ${x2},${my} ${x2},${y2}`, fill: 'none', stroke: '#8a93a6',
      'stroke-width': 1.3, 'marker-end': 'url(#arrow)', 'data-from': e.from, 'data-to': e.to }));
  }
  for (const n of graph.nodes) {
    const p = pos.get(n.id);
    const isTopic = ['topic', 'repartition', 'changelog'].includes(n.kind);
    const g = s('g', { class: 'node node-' + n.kind, transform: `translate(${p.x},${p.y})`, 'data-id': n.id });
    g.append(s('title', {}, `${n.kind}: ${n.label}`));
    g.append(s('rect', { width: W, height: H, rx: isTopic ? 18 : 4, fill: COLORS[n.kind] || '#fff', stroke: '#9aa3b5' }));
    g.append(s('text', { x: 8, y: 15, 'font-weight': 600 }, cut(n.label, 34)));
    let sub = n.kind;
    if (['source', 'processor', 'sink'].includes(n.kind)) sub += ` · ${fmt(n.processRate || 0)} rec/s · lag ${n.lag || 0}`;
    g.append(s('text', { x: 8, y: 31, fill: '#55607a' }, sub));
    svg.append(g);
  }
  return svg;
}

export function legend(h) {
  return h('div', { class: 'legend' }, KINDS.map((k) => h('span', {}, h('i', { style: `background:${COLORS[k]}` }), k)));
}
