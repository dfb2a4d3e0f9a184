// The builder's chart: requests (bars) and tokens (line) per day over their GPTs
// (vendored Chart.js; the numbers come from a json_script block).
(function () {
  "use strict";
  const node = document.getElementById("builder-daily");
  const canvas = document.getElementById("builder-chart");
  if (!node || !canvas || typeof Chart === "undefined") return;
  const rows = JSON.parse(node.textContent);
  new Chart(canvas, {
    data: {
      labels: rows.map((r) => r.day),
      datasets: [
        {type: "bar", label: "Requests", data: rows.map((r) => r.requests), backgroundColor: "#4f46e5", yAxisID: "requests"},
        {type: "line", label: "Tokens", data: rows.map((r) => r.tokens), borderColor: "#10b981", yAxisID: "tokens"},
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      scales: {
        requests: {position: "left", beginAtZero: true, ticks: {precision: 0}},
        tokens: {position: "right", beginAtZero: true, grid: {drawOnChartArea: false}, ticks: {precision: 0}},
      },
    },
  });
})();
