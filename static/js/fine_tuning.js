/* Fine-tuning pages: upload with a progress bar and the cost estimate (jobs page), and the
   live job page (status polled every second, loss chart with vendored Chart.js). */
(function () {
  "use strict";

  function csrf(form) { return form.querySelector("input[name=csrfmiddlewaretoken]").value; }

  // --- upload -------------------------------------------------------------------------
  var upload = document.querySelector("[data-ft-upload]");
  var jobForm = document.querySelector("[data-ft-job]");
  if (upload) {
    var errors = upload.querySelector("[data-ft-upload-errors]");
    var box = upload.querySelector("[data-ft-progress]");
    var bar = box.querySelector(".progress");
    var text = box.querySelector("[data-ft-progress-text]");
    upload.addEventListener("submit", function (event) {
      event.preventDefault();
      var file = upload.querySelector("input[type=file]").files[0];
      errors.hidden = true;
      if (!file) return;
      var data = new FormData();
      data.append("file", file);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", upload.dataset.url);
      xhr.setRequestHeader("X-CSRFToken", csrf(upload));
      box.hidden = false;
      xhr.upload.onprogress = function (e) {
        if (!e.lengthComputable) return;
        var percent = Math.round((100 * e.loaded) / e.total);
        bar.setAttribute("aria-valuenow", String(percent));
        bar.querySelector("span").style.width = percent + "%";
        text.textContent = percent + "% uploaded";
      };
      xhr.onload = function () {
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = {error: {message: "Upload failed."}}; }
        if (xhr.status !== 200) {
          errors.innerHTML = "";
          (body.error.message || "Upload failed.").split("; ").forEach(function (line) {
            var item = document.createElement("li");
            item.textContent = line;
            errors.appendChild(item);
          });
          errors.hidden = false;
          text.textContent = "Refused";
          return;
        }
        text.textContent = "Uploaded " + body.filename + ": " + body.examples + " examples";
        var select = jobForm.querySelector("select[name=training_file]");
        var option = document.createElement("option");
        option.value = body.id;
        option.textContent = body.filename + " · " + body.examples + " examples";
        select.insertBefore(option, select.firstChild);
        select.value = body.id;
        estimate();
      };
      xhr.send(data);
    });
  }

  var asked = 0;  // answers to older questions may arrive after newer ones: only the last counts
  function estimate() {
    if (!jobForm) return;
    var line = jobForm.querySelector("[data-ft-estimate]");
    var mine = ++asked;
    var data = new FormData(jobForm);
    fetch(jobForm.dataset.estimateUrl, {method: "POST", body: data, headers: {"X-CSRFToken": csrf(jobForm)}})
      .then(function (r) { return r.json().then(function (body) { return [r.ok, body]; }); })
      .then(function (result) {
        if (mine !== asked) return;
        var body = result[1];
        line.textContent = result[0]
          ? "Estimated cost: " + body.cost + " for " + body.billable_tokens + " training tokens (" +
            body.examples + " examples × " + body.n_epochs + " epochs, " + body.total_steps + " steps)."
          : body.error.message;
      });
  }
  if (jobForm) {
    jobForm.addEventListener("change", estimate);
    estimate();
  }

  // --- job page -----------------------------------------------------------------------
  var page = document.querySelector("[data-ft-job-page]");
  if (!page) return;
  var chart = null;
  var canvas = document.getElementById("ft-loss-chart");

  function draw(curve) {
    if (typeof Chart === "undefined" || !canvas) return;
    var steps = curve.map(function (m) { return m.step; });
    var train = curve.map(function (m) { return m.train_loss; });
    var valid = curve.map(function (m) { return m.valid_loss; });
    if (!chart) {
      chart = new Chart(canvas, {
        type: "line",
        data: {labels: steps, datasets: [
          {label: "training loss", data: train, borderColor: "#4f46e5", pointRadius: 0, tension: 0.2},
          {label: "validation loss", data: valid, borderColor: "#f59e0b", spanGaps: true, pointRadius: 3},
        ]},
        options: {responsive: true, maintainAspectRatio: false, animation: false,
                  scales: {x: {title: {display: true, text: "step"}}, y: {title: {display: true, text: "loss"}}}},
      });
      canvas.dataset.points = String(steps.length);
      return;
    }
    chart.data.labels = steps;
    chart.data.datasets[0].data = train;
    chart.data.datasets[1].data = valid;
    chart.update();
    canvas.dataset.points = String(steps.length);
  }

  function show(status) {
    var job = status.job;
    page.querySelector("[data-ft-status]").textContent = job.status;
    page.querySelector("[data-ft-steps]").textContent = job.steps_done + " / " + job.total_steps + " steps";
    var percent = job.total_steps ? Math.round((100 * job.steps_done) / job.total_steps) : 0;
    var bar = page.querySelector("[data-ft-bar]");
    bar.setAttribute("aria-valuenow", String(percent));
    bar.querySelector("span").style.width = percent + "%";
    var last = status.curve.length ? status.curve[status.curve.length - 1] : null;
    page.querySelector("[data-ft-eta]").textContent =
      job.status === "running" && last && last.eta_seconds != null
        ? "· about " + Math.ceil(last.eta_seconds) + " s left · " + last.tokens_per_second + " tokens/s" : "";
    page.querySelector("[data-ft-charged]").textContent = status.charged || "—";
    if (job.error) {
      var error = page.querySelector("[data-ft-error]");
      error.textContent = job.error.message;
      error.hidden = false;
    }
    if (job.fine_tuned_model) {
      page.querySelector("[data-ft-model]").hidden = false;
      page.querySelector("[data-ft-model-id]").textContent = job.fine_tuned_model;
      var link = page.querySelector("[data-ft-playground]");
      link.href = link.href.split("?")[0] + "?model=" + encodeURIComponent(job.fine_tuned_model);
    }
    var cancel = page.querySelector("[data-ft-cancel]");
    if (cancel && ["succeeded", "failed", "cancelled"].indexOf(job.status) >= 0) cancel.hidden = true;
    var list = document.querySelector("[data-ft-events]");
    list.innerHTML = "";
    status.events.forEach(function (event) {
      var item = document.createElement("li");
      item.textContent = event.message;
      list.appendChild(item);
    });
    draw(status.curve);
    return ["succeeded", "failed", "cancelled"].indexOf(job.status) < 0;
  }

  function poll() {
    fetch(page.dataset.statusUrl, {headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (status) { if (show(status)) setTimeout(poll, 1000); })
      .catch(function () { setTimeout(poll, 3000); });
  }
  if (show(JSON.parse(document.getElementById("ft-status").textContent))) setTimeout(poll, 1000);
})();
