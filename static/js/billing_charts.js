// Charts on the quota and earnings pages; data comes from json_script blocks.
(function () {
  "use strict";
  if (typeof Chart === "undefined") return;
  const palette = ["#4f46e5", "#0ea5e9", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6", "#14b8a6", "#f97316"];

  function data(id) {
    const node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  const usage = data("usage-data");
  const usageCanvas = document.getElementById("usage-chart");
  if (usage && usageCanvas) {
    new Chart(usageCanvas, {
      type: "bar",
      data: {labels: usage.labels, datasets: [{label: "Tokens used", data: usage.data, backgroundColor: palette[0]}]},
      options: {responsive: true, maintainAspectRatio: false, plugins: {legend: {display: false}},
                scales: {y: {beginAtZero: true, ticks: {precision: 0}}}},
    });
  }

  const earnings = data("earnings-data");
  const earningsCanvas = document.getElementById("earnings-chart");
  if (earnings && earningsCanvas) {
    // Amounts arrive in cents; the axis shows whole currency units.
    const datasets = earnings.datasets.map((set, i) => ({
      label: set.label,
      data: set.data.map((cents) => cents / 100),
      backgroundColor: palette[i % palette.length],
    }));
    new Chart(earningsCanvas, {
      type: "bar",
      data: {labels: earnings.labels, datasets: datasets},
      options: {responsive: true, maintainAspectRatio: false,
                scales: {x: {stacked: true}, y: {stacked: true, beginAtZero: true}}},
    });
  }
})();
