// A GPT's chat (and the builder's preview): sends a turn, streams the answer over SSE
// (fetch + ReadableStream; the session authenticates, the CSRF token guards the POST),
// shows the knowledge files the answer drew on and what it cost. The stop button asks the
// store to stop the answer: what was written is kept.
(function () {
  "use strict";
  const root = document.getElementById("gpt-chat");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const log = $("chat-log"), form = $("chat-form"), input = $("chat-input");
  const send = $("chat-send"), stop = $("chat-stop"), errorBox = $("chat-error"), costLine = $("chat-cost");
  const csrf = root.querySelector("input[name=csrfmiddlewaretoken]").value;
  const preview = root.dataset.preview === "1";
  let conversation = root.dataset.conversation || "";
  let requestId = null;
  let busyNow = false;
  const previewTurns = [];  // the preview keeps its conversation here; the chat keeps it server-side

  const turn = (role, text) => window.chatTurn(log, role, text);

  function showSources(item, sources) {
    if (!sources || !sources.length) return;
    const line = document.createElement("span");
    line.className = "chat-sources small";
    line.dataset.testid = "sources";
    line.append("Sources: ");
    sources.forEach((s) => {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = s.file;
      line.append(badge, " ");
    });
    item.appendChild(line);
  }

  const fail = (message) => window.chatFail(errorBox, message);

  function busy(on) {
    busyNow = on;
    send.disabled = on;
    stop.hidden = !on;
  }

  async function ask(text) {
    text = text.trim();
    if (!text || busyNow) return;
    errorBox.hidden = true;
    turn("user", text);
    const answer = turn("assistant", "");
    const body = answer.querySelector(".chat-text");
    answer.classList.add("streaming");
    busy(true);
    let payload;
    if (preview) {
      previewTurns.push({role: "user", content: text});
      payload = {messages: previewTurns};
    } else {
      payload = {conversation: conversation || null, content: text};
    }
    let written = "";
    try {
      const response = await fetch(root.dataset.sendUrl, {
        method: "POST",
        headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
        body: JSON.stringify(payload),
      });
      if (!response.ok) {
        throw new Error(await window.chatRefusal(response, "The store refused this message."));
      }
      for await (const data of window.chatEvents(response)) {
        const event = JSON.parse(data);
        if (event.request_id) requestId = event.request_id;
        if (event.conversation && !conversation) {
          conversation = String(event.conversation);
          window.history.replaceState(null, "", root.dataset.conversationBase + conversation + "/");
        }
        if (event.text) {
          written += event.text;
          body.textContent = written;
          log.scrollTop = log.scrollHeight;
        }
        if (event.done) {
          showSources(answer, event.sources);
          costLine.textContent = "This answer: " + event.usage.prompt_tokens + " + " +
            event.usage.completion_tokens + " tokens, " + event.cost +
            (event.finish_reason === "cancelled" ? " (stopped)" : "") +
            (event.finish_reason === "content_filter" ?
              " (stopped: the store's content policy)" : "");
        }
        if (event.error) fail(event.error.message);
      }
      if (preview) previewTurns.push({role: "assistant", content: written});
    } catch (err) {
      fail(err.message);
      if (!written) answer.remove();
      if (preview) previewTurns.pop();
    } finally {
      answer.classList.remove("streaming");
      requestId = null;
      busy(false);
    }
  }

  window.chatForm(form, input, ask);
  stop.addEventListener("click", () => {
    if (!requestId) return;
    const data = new FormData();
    data.append("request_id", requestId);
    fetch(root.dataset.stopUrl, {method: "POST", headers: {"X-CSRFToken": csrf}, body: data});
  });
  root.querySelectorAll(".starter").forEach((button) => {
    button.addEventListener("click", () => ask(button.textContent));
  });
  const starter = new URLSearchParams(window.location.search).get("starter");
  if (starter && !conversation) ask(starter);
})();
