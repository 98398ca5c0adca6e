// Payments charts: every [data-chart] figure names a <script type="application/json"> block with
// {labels, datasets: [{label, data}], unit: "money" | "hours" | "count", currency, stacked,
// horizontal}
// and is drawn here with Chart.js (static/vendor/chart.umd.min.js). The page shows the same
// figures in a table next to each chart, so the chart is a picture of them, not the only copy.
(function () {
  "use strict";

  if (typeof window.Chart === "undefined") return;
  const PALETTE = ["#3a5bd9", "#d98b1f", "#2f9e6f", "#c2415b", "#7b5cd6", "#1f8fb3", "#8a8f2a", "#b35f1f"];

  function formatter(spec) {
    if (spec.unit === "money") {
      const nf = new Intl.NumberFormat("en", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
      return (v) => (spec.currency ? spec.currency + " " : "") + nf.format(v);
    }
    if (spec.unit === "count") return (v) => String(Math.round(Number(v)));
    return (v) => Number(v).toFixed(2) + " h";
  }

  function draw(figure) {
    const source = document.getElementById(figure.dataset.source || "");
    const canvas = figure.querySelector("canvas");
    if (!source || !canvas) return;
    let spec;
    try { spec = JSON.parse(source.textContent || "{}"); } catch (err) { return; }
    if (!spec.labels || !spec.labels.length || !spec.datasets || !spec.datasets.length) return;
    const fmt = formatter(spec);
    const stacked = Boolean(spec.stacked);
    const horizontal = Boolean(spec.horizontal);
    const valueAxis = horizontal ? "x" : "y";
    const scales = {
      x: { stacked, beginAtZero: true },
      y: { stacked, beginAtZero: true },
    };
    scales[valueAxis].ticks = { callback: (v) => fmt(v) };
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map((d, i) => ({
          label: d.label,
          data: d.data,
          backgroundColor: PALETTE[i % PALETTE.length],
          borderWidth: 0,
        })),
      },
      options: {
        indexAxis: horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales,
        plugins: {
          legend: { display: spec.datasets.length > 1, position: "bottom" },
          tooltip: {
            callbacks: {
              label: (ctx) => ctx.dataset.label + ": " + fmt(horizontal ? ctx.parsed.x : ctx.parsed.y),
            },
          },
        },
      },
    });
    figure.dataset.drawn = "true";
  }

  document.querySelectorAll("[data-chart]").forEach(draw);
})();
