// Playground: chats with a model the customer may use, streaming the answer over SSE
// (fetch + ReadableStream; the session authenticates, the CSRF token guards the POST).
(function () {
  "use strict";
  const root = document.getElementById("playground");
  if (!root) return;
  const models = JSON.parse(document.getElementById("pg-models").textContent);
  const $ = (id) => document.getElementById(id);
  const select = $("pg-model"), log = $("pg-log"), form = $("pg-form"), input = $("pg-input");
  const send = $("pg-send"), stop = $("pg-stop"), errorBox = $("pg-error"), starters = $("pg-starters");
  const csrf = root.querySelector("input[name=csrfmiddlewaretoken]").value;
  let history = [];
  let controller = null;

  function bindRange(id) {
    const range = $(id), output = $(id + "-value");
    const show = () => { output.textContent = range.value; };
    range.addEventListener("input", show);
    show();
  }
  bindRange("pg-temperature");
  bindRange("pg-top-p");

  function showStarters() {
    starters.replaceChildren();
    const model = models.find((m) => m.id === select.value);
    (model ? model.starters : []).forEach((text) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "starter";
      button.textContent = text;
      button.addEventListener("click", () => ask(text));
      starters.appendChild(button);
    });
  }

  function reset() {
    if (controller) controller.abort();
    history = [];
    log.replaceChildren();
    errorBox.hidden = true;
  }

  const turn = (role, text) => window.chatTurn(log, role, text);
  const fail = (message) => window.chatFail(errorBox, message);

  function busy(on) {
    send.disabled = on;
    stop.hidden = !on;
  }

  async function ask(text) {
    text = text.trim();
    if (!text || controller) return;
    errorBox.hidden = true;
    const messages = [];
    const system = $("pg-system").value.trim();
    if (system) messages.push({role: "system", content: system});
    history.push({role: "user", content: text});
    turn("user", text);
    const answer = turn("assistant", "");
    const body = answer.querySelector(".chat-text");
    answer.classList.add("streaming");
    controller = new AbortController();
    busy(true);
    const started = performance.now();
    let firstAt = null, content = "", usage = null;
    try {
      const response = await fetch(root.dataset.chatUrl, {
        method: "POST",
        headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
        credentials: "same-origin",
        signal: controller.signal,
        body: JSON.stringify({
          model: select.value,
          messages: messages.concat(history),
          temperature: parseFloat($("pg-temperature").value),
          top_p: parseFloat($("pg-top-p").value),
          max_tokens: parseInt($("pg-max-tokens").value, 10) || 128,
        }),
      });
      if (!response.ok) {
        throw new Error(
          await window.chatRefusal(response, "The request failed (" + response.status + ").")
        );
      }
      for await (const data of window.chatEvents(response)) {
        if (data === "[DONE]") break;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        if (chunk.usage) usage = chunk.usage;
        const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
        if (delta && delta.content) {
          if (firstAt === null) firstAt = performance.now();
          content += delta.content;
          body.textContent = content;
          log.scrollTop = log.scrollHeight;
        }
      }
      history.push({role: "assistant", content: content});
      const stats = document.createElement("span");
      stats.className = "chat-stats";
      stats.dataset.testid = "answer-stats";
      if (usage) {
        const seconds = (performance.now() - (firstAt || started)) / 1000;
        const rate = seconds > 0 ? usage.completion_tokens / seconds : 0;
        stats.textContent = usage.completion_tokens + " tokens · " + rate.toFixed(1) + " tokens/s · " +
          "first token after " + Math.round((firstAt || performance.now()) - started) + " ms · " +
          // Paid from credits: the exact cost (a decimal string in dollars); else pack tokens.
          (usage.cost !== undefined ? "cost $" + usage.cost : "charged " + (usage.charged_tokens || 0) + " tokens");
      }
      answer.appendChild(stats);
    } catch (error) {
      history.pop();
      if (error.name === "AbortError") {
        body.textContent = content + " [stopped]";
      } else {
        answer.remove();
        fail(error.message);
      }
    } finally {
      answer.classList.remove("streaming");
      controller = null;
      busy(false);
    }
  }

  window.chatForm(form, input, ask);
  stop.addEventListener("click", () => { if (controller) controller.abort(); });
  $("pg-reset").addEventListener("click", reset);
  select.addEventListener("change", () => { reset(); showStarters(); });
  showStarters();
})();
