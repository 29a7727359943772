// Time-series charts with uPlot (about 22 KB gzipped, canvas-drawn, the fastest of the well-kept charting
// libraries for line charts). One series for the period and, dashed, the previous period laid over it bucket by
// bucket. Colours come from the page's CSS custom properties, so the chart follows light and dark mode.
import uPlot from "uplot";
import { h } from "./dom.js";

const scheme = window.matchMedia("(prefers-color-scheme: dark)");

function colour(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function seconds(day) {
  return Date.parse(`${day}T00:00:00Z`) / 1000;
}

/**
 * Draws `points` ([{start, value}]) with `previous` ([{start, value}] or null) into a new element and keeps it sized
 * to its container. `formatValue` writes a y value, `formatDay` an x tick. Returns the element.
 */
export function seriesChart({ points, previous, label, previousLabel, formatValue, formatAxis, formatDay, height = 280 }) {
  const element = h("div", { class: "chart", role: "img", "aria-label": `${label} chart` });
  const x = points.map((p) => seconds(p.start));
  const current = points.map((p) => (p.value === null ? null : Number(p.value)));
  const data = [x, current];
  if (previous) data.push(x.map((_, i) => (previous[i] && previous[i].value !== null ? Number(previous[i].value) : null)));

  let plot = null;
  const build = () => {
    plot?.destroy();
    const accent = colour("--chart-current");
    const muted = colour("--chart-previous");
    const text = colour("--text-muted");
    const grid = colour("--chart-grid");
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, font: "12px system-ui, sans-serif" };
    const series = [
      // The legend shows values only under the cursor; idle, it names the lines.
      { label: "", value: (_, v) => (v === null ? "" : formatDay(new Date(v * 1000).toISOString().slice(0, 10))) },
      { label, stroke: accent, width: 2.25, fill: colour("--chart-fill"), points: { show: points.length <= 45, size: 5 }, value: (_, v) => (v === null ? "" : formatValue(v)) },
    ];
    if (previous) {
      series.push({
        label: previousLabel,
        stroke: muted,
        width: 1.5,
        dash: [6, 5],
        points: { show: false },
        // The previous period's own day, not this period's, in the legend.
        value: (_, v, __, i) => (v === null || i === null || !previous[i] ? "" : `${formatValue(v)} (${formatDay(previous[i].start)})`),
      });
    }
    plot = new uPlot({
      width: Math.max(280, element.clientWidth || 600),
      height,
      series,
      scales: { x: { time: true }, y: { range: (_, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        { ...axis, values: (_, ticks) => ticks.map((t) => formatDay(new Date(t * 1000).toISOString().slice(0, 10))) },
        { ...axis, size: 64, values: (_, ticks) => ticks.map((t) => formatAxis(t)) },
      ],
      legend: { live: true },
      cursor: { points: { size: 7 } },
    }, data, element);
    element.dataset.drawn = "true";
    performance.mark(`chart-drawn:${label}`);
  };

  let shown = false;
  const resize = new ResizeObserver(() => {
    if (!element.isConnected) {
      if (shown) resize.disconnect();
      return;
    }
    shown = true;
    if (!plot) build();
    else if (Math.abs(plot.width - element.clientWidth) > 2) plot.setSize({ width: Math.max(280, element.clientWidth), height });
  });
  resize.observe(element);
  const rebuild = () => {
    if (element.isConnected) build();
    else scheme.removeEventListener("change", rebuild);
  };
  scheme.addEventListener("change", rebuild);
  return element;
}
