/* Publisher studio: upload with a progress bar, then poll processing progress. No dependencies. */
(function () {
  "use strict";

  function formatBytes(n) {
    if (n < 1024) return n + " B";
    var units = ["KB", "MB", "GB", "TB"], i = -1;
    do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
    return n.toFixed(n < 10 ? 1 : 0) + " " + units[i];
  }

  function showErrors(list, errors) {
    list.innerHTML = "";
    errors.forEach(function (text) {
      var item = document.createElement("li");
      item.textContent = text;
      list.appendChild(item);
    });
    list.hidden = errors.length === 0;
  }

  function setBar(bar, percent) {
    bar.setAttribute("aria-valuenow", String(percent));
    bar.querySelector("span").style.width = percent + "%";
  }

  // --- upload -------------------------------------------------------------------------
  var form = document.querySelector("[data-upload-form]");
  if (form) {
    var input = form.querySelector("#id_files");
    var folder = form.querySelector("[data-folder-input]");
    var errors = form.querySelector("[data-upload-errors]");
    var box = form.querySelector("[data-upload-progress]");
    var bar = box.querySelector(".progress");
    var text = box.querySelector("[data-upload-progress-text]");
    var button = form.querySelector("button[type=submit]");
    var limit = parseInt(input.dataset.limit, 10);

    // Said on the form once the upload goes through here (with progress), not as a plain post.
    form.dataset.enhanced = "true";
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var files = Array.prototype.slice.call(input.files).concat(folder ? Array.prototype.slice.call(folder.files) : []);
      if (!files.length) { showErrors(errors, ["Choose the files to upload."]); return; }
      var total = files.reduce(function (sum, f) { return sum + f.size; }, 0);
      // The server enforces the limit while streaming; this only saves a long wasted upload.
      if (limit && total > limit) {
        showErrors(errors, ["The upload is " + formatBytes(total) + ", over the limit of " + formatBytes(limit) + "."]);
        return;
      }
      showErrors(errors, []);
      var data = new FormData(form);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action || window.location.href);
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      xhr.upload.onprogress = function (e) {
        if (!e.lengthComputable) return;
        var percent = Math.floor((e.loaded / e.total) * 100);
        setBar(bar, percent);
        text.textContent = "Uploading: " + formatBytes(e.loaded) + " of " + formatBytes(e.total) + " (" + percent + "%)";
      };
      xhr.upload.onload = function () {
        setBar(bar, 100);
        text.textContent = "Upload complete; checking the files…";
      };
      xhr.onload = function () {
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (ignored) { /* an HTML error page */ }
        if (xhr.status === 201 && body.redirect) { window.location.assign(body.redirect); return; }
        button.disabled = false;
        box.hidden = true;
        showErrors(errors, body.errors || ["The upload failed (HTTP " + xhr.status + ")."]);
      };
      xhr.onerror = function () {
        button.disabled = false;
        box.hidden = true;
        showErrors(errors, ["The connection was lost during the upload. Try again."]);
      };
      button.disabled = true;
      box.hidden = false;
      setBar(bar, 0);
      xhr.send(data);
    });
  }

  // --- processing progress ------------------------------------------------------------
  Array.prototype.forEach.call(document.querySelectorAll("[data-progress-url]"), function (card) {
    var url = card.dataset.progressUrl;
    var bar = card.querySelector(".progress");
    var message = card.querySelector("[data-progress-message]");
    function poll() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (state) {
          if (!state) { setTimeout(poll, 3000); return; }
          if (state.status === "ready" || state.status === "failed") { window.location.reload(); return; }
          if (bar) setBar(bar, state.progress);
          if (message) message.textContent = state.progress + "% · " + state.message;
          setTimeout(poll, 1000);
        })
        .catch(function () { setTimeout(poll, 3000); });
    }
    setTimeout(poll, 1000);
  });
})();
