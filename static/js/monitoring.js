// A model's monitoring charts (vendored Chart.js); buckets come from a json_script block.
(function () {
  "use strict";
  const node = document.getElementById("monitoring-data");
  if (!node || typeof Chart === "undefined") return;
  const buckets = JSON.parse(node.textContent);
  const labels = buckets.map((b) => new Date(b.at).toLocaleString([], {month: "short", day: "numeric", hour: "2-digit"}));

  function chart(id, type, datasets) {
    const canvas = document.getElementById(id);
    if (!canvas) return;
    new Chart(canvas, {
      type: type,
      data: {labels: labels, datasets: datasets},
      options: {responsive: true, maintainAspectRatio: false, scales: {y: {beginAtZero: true}}},
    });
  }

  chart("monitoring-requests", "bar", [
    {label: "Requests", data: buckets.map((b) => b.requests), backgroundColor: "#4f46e5"},
    {label: "Errors", data: buckets.map((b) => b.errors), backgroundColor: "#ef4444"},
  ]);
  chart("monitoring-ttft", "line", [
    {label: "p50", data: buckets.map((b) => b.ttft_p50), borderColor: "#0ea5e9"},
    {label: "p95", data: buckets.map((b) => b.ttft_p95), borderColor: "#f59e0b"},
  ]);
  chart("monitoring-throughput", "line", [
    {label: "tokens/s", data: buckets.map((b) => b.tokens_per_second), borderColor: "#10b981"},
  ]);
})();
