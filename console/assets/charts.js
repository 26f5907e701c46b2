// SVG sparklines and line charts: no library, a polyline over the points.
import { h } from './lib.js';

const NS = 'http://www.w3.org/2000/svg';
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

// sparkline draws points [{t, v}] in a small box.
export function sparkline(points, width = 140, height = 28) {
  const svg = s('svg', { class: 'spark', width, height, viewBox: `0 0 ${width} ${height}` });
  if (!points || points.length < 2) return svg;
  const max = Math.max(1, ...points.map((p) => p.v));
  const t0 = points[0].t, t1 = points[points.length - 1].t || t0 + 1;
  const xy = points.map((p) => [((p.t - t0) / Math.max(1, t1 - t0)) * (width - 2) + 1, height - 2 - (p.v / max) * (height - 4)]);
  svg.append(s('polyline', { points: xy.map((p) => p.join(',')).join(' '), fill: 'none', stroke: '#2a62d6', 'stroke-width': 1.5 }));
  return svg;
}

// lineChart draws one series with axes labels (max value, time span).
export function lineChart(points, { width = 560, height = 160, label = '' } = {}) {
  const svg = s('svg', { class: 'chart', width, height, viewBox: `0 0 ${width} ${height}`, 'data-points': (points || []).length });
  const pad = { l: 48, r: 10, t: 14, b: 22 };
  if (!points || points.length === 0) {
    svg.append(s('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', fill: '#6b7385' }, 'no samples yet'));
    return svg;
  }
  const max = Math.max(1, ...points.map((p) => p.v));
  const t0 = points[0].t, t1 = Math.max(points[points.length - 1].t, t0 + 1);
  const x = (t) => pad.l + ((t - t0) / (t1 - t0)) * (width - pad.l - pad.r);
  const y = (v) => height - pad.b - (v / max) * (height - pad.t - pad.b);
  svg.append(s('line', { x1: pad.l, y1: y(0), x2: width - pad.r, y2: y(0), stroke: '#dde1e8' }));
  svg.append(s('text', { x: pad.l - 6, y: y(max) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#6b7385' }, Math.round(max).toLocaleString('en')));
  svg.append(s('text', { x: pad.l - 6, y: y(0) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#6b7385' }, '0'));
  svg.append(s('text', { x: width - pad.r, y: height - 6, 'text-anchor': 'end', 'font-size': 11, fill: '#6b7385' },
    `${label} over ${Math.round((t1 - t0) / 1000)}s`));
  svg.append(s('polyline', { points: points.map((p) => `${x(p.t)},${y(p.v)}`).join(' '), fill: 'none', stroke: '#2a62d6', 'stroke-width': 2 }));
  return svg;
}

export { h };
