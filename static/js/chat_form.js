// A chat box, as the playground and the GPT chats have it: Enter sends (Shift+Enter starts a
// new line), and sending empties the box and hands its text to ``send``.
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
