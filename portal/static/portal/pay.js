/* Card payment: Stripe.js's card element tokenises the card (stripe.createToken), the server confirms the
   PaymentIntent it created with that card, and stripe.confirmCardPayment completes the cardholder's
   authentication (3-D Secure) when the intent asks for it. Whatever happens here, the page then shows what the
   server knows: the ledger is credited only by Stripe's signed webhook. */
(function () {
  "use strict";
  var form = document.getElementById("pay-card-form");
  if (!form || typeof Stripe === "undefined") { return; }
  var stripe = Stripe(form.dataset.publishableKey);
  var card = stripe.elements().create("card", {hidePostalCode: true});
  card.mount("#card-element");
  var errors = document.getElementById("card-errors");
  var button = document.getElementById("pay-submit");

  function fail(message) {
    errors.textContent = message || form.dataset.errorGeneric;
    button.disabled = false;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    button.disabled = true;
    errors.textContent = "";
    var tokenResult = await stripe.createToken(card);
    if (tokenResult.error || !tokenResult.token) {
      return fail(tokenResult.error && tokenResult.error.message);
    }
    var body = new FormData(form);
    body.append("token", tokenResult.token.id);
    var response = await fetch(form.action, {method: "POST", body: body, credentials: "same-origin"});
    var answer = await response.json().catch(function () { return {}; });
    if (!response.ok) { return fail(answer.error); }
    if (answer.status === "requires_action") {
      var confirmed = await stripe.confirmCardPayment(answer.client_secret);
      if (confirmed.error) { return fail(confirmed.error.message); }
    }
    window.location.assign(form.dataset.statusUrl);
  });
})();
