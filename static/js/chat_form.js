// What the playground and the GPT chats share: the chat box (Enter sends, Shift+Enter starts a
// new line; sending empties the box and hands its text to ``send``), a turn in the log, the
// error line, a refusal's message, and the Server-Sent Events of a streamed answer.
window.chatForm = function (form, input, send) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    input.value = "";
    send(text);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
};

// A turn of ``role`` ("user" or "assistant") at the end of the log; its text is in .chat-text.
window.chatTurn = function (log, role, text) {
  const item = document.createElement("li");
  item.className = "chat-turn " + role;
  item.dataset.testid = role === "user" ? "question" : "answer";
  const body = document.createElement("span");
  body.className = "chat-text";
  body.textContent = text;
  item.appendChild(body);
  log.appendChild(item);
  log.scrollTop = log.scrollHeight;
  return item;
};

window.chatFail = function (errorBox, message) {
  errorBox.textContent = message;
  errorBox.hidden = false;
};

// The message of a refused request (the store's JSON error), or ``fallback``.
window.chatRefusal = async function (response, fallback) {
  try {
    const problem = await response.json();
    return (problem.error && problem.error.message) || fallback;
  } catch (e) {
    return fallback;  // not JSON
  }
};

// The data of each Server-Sent Event of a streamed answer, as text, as it arrives.
window.chatEvents = async function* (response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, {stream: true});
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      if (event.startsWith("data: ")) yield event.slice(6);
    }
  }
};
