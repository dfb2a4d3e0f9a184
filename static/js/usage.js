// Usage dashboard charts (vendored Chart.js); the numbers come from a json_script block.
(function () {
  "use strict";
  const node = document.getElementById("inference-usage");
  if (!node || typeof Chart === "undefined") return;
  const usage = JSON.parse(node.textContent);
  const palette = ["#4f46e5", "#0ea5e9", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6", "#14b8a6", "#f97316"];

  // Rows are {day, label, requests, tokens}; one dataset per label, one bar per day.
  function series(rows, field) {
    const days = [...new Set(rows.map((r) => r.day))].sort();
    const labels = [...new Set(rows.map((r) => r.label))].sort();
    const datasets = labels.map((label, i) => ({
      label: label,
      backgroundColor: palette[i % palette.length],
      borderColor: palette[i % palette.length],
      data: days.map((day) => rows.filter((r) => r.day === day && r.label === label).reduce((s, r) => s + r[field], 0)),
    }));
    return {labels: days, datasets: datasets};
  }

  function chart(id, rows, field, type, money) {
    const canvas = document.getElementById(id);
    if (!canvas || !rows || !rows.length) return;
    const data = series(rows, field);
    // Spend arrives as integer microcents; the axis shows dollars (display only).
    if (money) data.datasets.forEach((set) => { set.data = set.data.map((v) => v / 1e8); });
    const ticks = money ? {callback: (v) => "$" + Number(v).toFixed(4).replace(/0+$/, "").replace(/\.$/, "")} : {precision: 0};
    new Chart(canvas, {
      type: type,
      data: data,
      options: {
        responsive: true, maintainAspectRatio: false,
        scales: {x: {stacked: type === "bar"}, y: {stacked: type === "bar", beginAtZero: true, ticks: ticks}},
      },
    });
  }

  chart("usage-cost-model", usage.by_model, "cost", "bar", true);
  chart("usage-cost-key", usage.by_key, "cost", "bar", true);
  chart("usage-tokens-model", usage.by_model, "tokens", "bar");
  chart("usage-requests-model", usage.by_model, "requests", "line");
  chart("usage-tokens-key", usage.by_key, "tokens", "bar");
})();
