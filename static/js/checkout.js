// Card payment on the pay page. Two ways to confirm the order's PaymentIntent:
// - "elements" (real Stripe.js): confirmCardPayment with the card Element;
// - "token" (localstripe's stand-in, which cannot do that): createToken, then our server
//   attaches the card and confirms; a 3-D Secure card comes back "requires_action" and
//   confirmCardPayment shows the authentication prompt.
// The server decides which (billing.gateway.confirmation_mode); the rest is shared.
(function () {
  "use strict";
  const form = document.getElementById("payment-form");
  if (!form || typeof Stripe === "undefined") return;
  const stripe = Stripe(form.dataset.publishableKey);
  const card = stripe.elements().create("card");
  card.mount("#card-element");
  const button = document.getElementById("pay-button");
  const errorBox = document.getElementById("payment-error");
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;

  function showError(message) {
    errorBox.textContent = message || "The payment failed.";
    errorBox.hidden = false;
    button.disabled = false;
  }

  async function finishWithStripe(clientSecret, data) {
    const result = await stripe.confirmCardPayment(clientSecret, data);
    if (result.error) return showError(result.error.message);
    window.location.assign(form.dataset.completeUrl);
  }

  async function payWithToken() {
    const result = await stripe.createToken(card);
    if (result.error) return showError(result.error.message || "Check the card details.");
    const response = await fetch(form.dataset.tokenUrl, {
      method: "POST",
      headers: {"X-CSRFToken": csrf, "Content-Type": "application/x-www-form-urlencoded"},
      body: new URLSearchParams({token: result.token.id}),
      credentials: "same-origin",
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok && body.retry_url) {
      // The declined order is closed: the button now starts over with another card.
      showError(body.error);
      button.textContent = "Try another card";
      form.dataset.retryUrl = body.retry_url;
      return;
    }
    if (!response.ok) return showError(body.error);
    if (body.status === "requires_action") return finishWithStripe(body.client_secret);
    window.location.assign(body.redirect || form.dataset.completeUrl);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (form.dataset.retryUrl) return window.location.assign(form.dataset.retryUrl);
    if (button.disabled) return; // a double click pays once
    button.disabled = true;
    errorBox.hidden = true;
    try {
      if (form.dataset.mode === "token") await payWithToken();
      else await finishWithStripe(form.dataset.clientSecret, {payment_method: {card: card}});
    } catch (err) {
      showError(err && err.message);
    }
  });
})();
