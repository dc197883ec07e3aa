// The agent console: one websocket to /ws/callcenter/ (reconnecting with backoff), the screen-pop, the state
// buttons and the actions posted about the current call. All wording comes translated from the page.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("console-config").textContent);
  var text = JSON.parse(document.getElementById("console-text").textContent);
  var root = document.getElementById("console");
  var socket = null;
  var retryMs = 500;
  var heartbeat = null;
  var current = null;  // {callId, profile, accountId, sequences: {business_type: n}}

  function byId(id) { return document.getElementById(id); }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attrs[key]; } else { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }
  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }
  function showError(message) {
    var box = byId("console-error");
    box.textContent = message || "";
    box.hidden = !message;
  }
  function showResult(message) {
    var box = byId("pop-result");
    box.textContent = message;
    box.hidden = !message;
  }

  // --- the socket -------------------------------------------------------------------------------------------
  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + config.ws_path);
    socket.onopen = function () {
      retryMs = 500;
      setLink(true);
      heartbeat = window.setInterval(function () { send({action: "heartbeat"}); }, config.heartbeat_seconds * 1000);
    };
    socket.onmessage = function (event) { receive(JSON.parse(event.data)); };
    socket.onclose = function () {
      setLink(false);
      window.clearInterval(heartbeat);
      window.setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 15000);
    };
  }
  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(message)); }
  }
  function setLink(connected) {
    var link = byId("console-link");
    link.dataset.connected = connected ? "true" : "false";
    link.textContent = connected ? text.connected : text.reconnecting;
  }
  function receive(message) {
    switch (message.kind) {
      case "agent_state": return showState(message);
      case "pbx_status": return showPbx(message.connected);
      case "queue_state": return showQueue(message);
      case "screen_pop": return pop(message.call_id, message.profile);
      case "call_update": return update(message);
      case "pbx_result":
        return showResult(message.ok ? text.callback_sent : text.pbx_failed + message.message);
      case "error": return showError(message.message);
      default: return null;
    }
  }
  function showState(state) {
    root.dataset.state = state.state;
    byId("state-label").textContent = state.state_label;
    byId("state-reason").textContent = state.reason || "";
    showError("");
  }
  function showQueue(queue) {
    var box = byId("console-queue");
    box.dataset.waiting = String(queue.waiting);
    box.textContent = text.queue_state.replace("{waiting}", queue.waiting)
      .replace("{longest}", queue.longest_wait_seconds).replace("{ready}", queue.agents_ready);
  }
  function showPbx(connected) {
    var pbx = byId("console-pbx");
    pbx.dataset.connected = connected ? "true" : "false";
    pbx.textContent = connected ? text.pbx_connected : text.pbx_disconnected;
  }
  document.querySelectorAll(".state-button").forEach(function (button) {
    button.addEventListener("click", function () {
      var state = button.dataset.state;
      send({action: "agent_state", state: state, reason: state === "not_ready" ? byId("not-ready-reason").value : ""});
    });
  });

  // --- the screen-pop ---------------------------------------------------------------------------------------
  function pop(callId, profile) {
    var sameCall = current && current.callId === callId;
    current = {callId: callId, profile: profile, accountId: profile.account_id,
               sequences: sameCall ? current.sequences : {}};
    byId("pop").hidden = false;
    if (!sameCall) { showResult(""); }
    renderCall(profile.call);
    renderCustomer(profile);
    renderAccounts(profile.accounts);
    renderTickets(profile.tickets);
  }
  function update(message) {
    if (!current || current.callId !== message.call_id) { return; }
    if (message.profile) { pop(message.call_id, message.profile); return; }
    current.profile.call = message.call;
    renderCall(message.call);
    if (message.change === "ended") { showResult(text.call_ended); }
  }
  function renderCall(call) {
    byId("pop").dataset.callState = call.state;
    byId("pop-call-state").textContent = call.state_label;
    byId("pop-caller").textContent = call.caller_number_masked;
    byId("pop-identified").textContent = call.identified_by_label;
    byId("pop-wait").textContent = call.queue_wait_seconds === null ? "—" : String(call.queue_wait_seconds);
    byId("pop-ivr").textContent = call.ivr_path.map(function (step) {
      var label = config.ivr_labels[step.node] || step.node;
      return step.input ? label + "(" + step.input + ")" : label;
    }).join(" → ");
    var storm = byId("pop-storm");
    storm.hidden = !call.storm_outage;
    storm.textContent = call.storm_outage ? text.storm + call.storm_outage.title : "";
  }
  function renderCustomer(profile) {
    var customer = profile.customer;
    byId("pop-no-customer").hidden = !!customer;
    byId("pop-customer-fields").hidden = !customer;
    byId("pop-reveal").hidden = !customer;
    var account = currentAccount();
    var values = {
      name: customer ? customer.name_masked : "", phone: customer ? customer.phone_masked : "",
      email: customer ? customer.email_masked : "", account_name: account ? account.name_masked : "",
      address: account ? account.address_masked : ""
    };
    Object.keys(values).forEach(function (name) {
      var field = byId("pop-field-" + name);
      if (field) { field.textContent = values[name]; field.dataset.revealed = "false"; }
    });
    var list = byId("pop-candidates");
    list.replaceChildren();
    profile.candidates.forEach(function (candidate) {
      var button = el("button", {type: "button", text: text.use_account});
      button.addEventListener("click", function () { identify(candidate.account_number); });
      list.appendChild(el("li", {}, [
        el("span", {text: candidate.account_number + " " + candidate.name_masked + " " + candidate.address_masked}),
        button
      ]));
    });
  }
  function currentAccount() {
    var accounts = current ? current.profile.accounts : [];
    for (var i = 0; i < accounts.length; i += 1) {
      if (accounts[i].id === current.accountId) { return accounts[i]; }
    }
    return accounts.length ? accounts[0] : null;
  }
  function money(amount) {
    return text.money.replace("{amount}", amount);
  }
  function renderAccounts(accounts) {
    var box = byId("pop-accounts");
    box.replaceChildren();
    accounts.forEach(function (account) {
      var bills = el("ul", {class: "pop__bills"}, account.bills.map(function (bill) {
        return el("li", {text: bill.period + " " + bill.kwh + "kWh " + money(bill.total) + " · " + bill.state_label});
      }));
      var outages = el("ul", {class: "pop__outages"}, account.outages.map(function (outage) {
        // Past its expected end and not restored: the time has gone by, so it is said as passed, not promised.
        var until = outage.past_expected_end ?
          text.past_expected_end.replace("{ends}", new Date(outage.ends_at).toLocaleString()) :
          text.until + " " + new Date(outage.ends_at).toLocaleString();
        var attrs = {text: outage.kind_label + " · " + outage.title + " · " + until};
        if (outage.past_expected_end) { attrs["class"] = "pop__outage--overrun"; }
        return el("li", attrs);
      }));
      box.appendChild(el("article", {class: "pop__account", "data-account": account.number}, [
        el("h4", {text: text.number + " " + account.number + " · " + account.status_label + " · " + account.billing_mode_label}),
        el("p", {class: "pop__money", text: text.balance + " " + money(account.balance) + " · " + text.arrears + " " +
          money(account.arrears) + " · " + text.prepaid + " " + money(account.prepaid_balance)}),
        el("h5", {text: text.bills}), bills,
        account.outages.length ? el("h5", {text: text.outages}) : null,
        account.outages.length ? outages : null
      ]));
    });
  }
  function renderTickets(tickets) {
    var box = byId("pop-tickets");
    box.replaceChildren();
    if (!tickets.length) { box.appendChild(el("p", {text: text.no_tickets})); return; }
    tickets.forEach(function (ticket) {
      box.appendChild(el("article", {class: "pop__ticket", "data-ticket": ticket.number}, [
        el("h4", {text: ticket.number + " · " + ticket.business_type_label + " · " + ticket.state_label}),
        el("p", {text: ticket.summary}),
        el("ol", {class: "pop__timeline"}, ticket.timeline.map(function (entry) {
          return el("li", {text: new Date(entry.at).toLocaleString() + " " + entry.text});
        }))
      ]));
    });
  }

  // --- actions about the call -------------------------------------------------------------------------------
  function post(action, body) {
    return fetch(config.calls_prefix + current.callId + "/" + action, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken()},
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () { return {ok: false, error: text.failed}; });
    }).then(function (answer) {
      if (!answer.ok) { showResult(answer.error || text.failed); throw new Error(answer.error); }
      return answer;
    });
  }
  function formBody(form) {
    var body = {};
    new FormData(form).forEach(function (value, key) { body[key] = value; });
    return body;
  }
  function ignore() { return null; }
  function identify(number) {
    post("identify/", {account_number: number}).then(function (answer) {
      pop(current.callId, answer.profile);
    }).catch(ignore);
  }
  byId("pop-identify").addEventListener("submit", function (event) {
    event.preventDefault();
    identify(byId("identify-number").value);
  });
  byId("pop-reveal").addEventListener("click", function () {
    var account = currentAccount();
    var fields = ["name", "phone", "email"].concat(account ? ["account_name", "address"] : []);
    post("reveal/", {fields: fields, account_id: account ? account.id : null}).then(function (answer) {
      Object.keys(answer.values).forEach(function (name) {
        var field = byId("pop-field-" + name);
        if (field) { field.textContent = answer.values[name]; field.dataset.revealed = "true"; }
      });
    }).catch(ignore);
  });
  byId("pop-ticket-open").addEventListener("submit", function (event) {
    event.preventDefault();
    var body = formBody(event.target);
    var account = currentAccount();
    if (account) { body.account_id = account.id; }
    if (!body.branch_id) { delete body.branch_id; }
    var type = body.business_type;
    body.sequence = (current.sequences[type] || 0) + 1;
    post("tickets/", body).then(function (answer) {
      current.sequences[type] = body.sequence;
      event.target.reset();
      showResult(text.ticket_opened + " " + answer.ticket.number);
    }).catch(ignore);
  });
  byId("pop-ticket-note").addEventListener("submit", function (event) {
    event.preventDefault();
    post("tickets/note/", formBody(event.target)).then(function (answer) {
      event.target.reset();
      showResult(text.note_added + " " + answer.ticket.number);
    }).catch(ignore);
  });
  byId("pop-sms").addEventListener("submit", function (event) {
    event.preventDefault();
    var form = event.target;
    if (!form.dataset.key) { form.dataset.key = Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10); }
    var body = formBody(form);
    body.request_key = form.dataset.key;
    post("sms/", body).then(function () {
      form.reset();
      delete form.dataset.key;
      showResult(text.sms_sent);
    }).catch(ignore);
  });
  byId("pop-wrap-up").addEventListener("submit", function (event) {
    event.preventDefault();
    post("wrap-up/", formBody(event.target)).then(function () { showResult(text.wrapped_up); }).catch(ignore);
  });
  byId("pop-callback").addEventListener("click", function () {
    post("callback/", {}).then(function () { showResult(text.callback_sent); }).catch(ignore);
  });

  // --- knowledge base ---------------------------------------------------------------------------------------
  byId("kb-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var query = byId("kb-q").value.trim();
    var url = config.knowledge_url + "?format=json&q=" + encodeURIComponent(query);
    fetch(url, {credentials: "same-origin"}).then(function (response) { return response.json(); }).then(function (answer) {
      var list = byId("kb-hits");
      list.replaceChildren();
      if (answer.error) { list.appendChild(el("li", {text: answer.error})); return; }
      if (!answer.results.length) { list.appendChild(el("li", {text: text.no_hits})); return; }
      answer.results.forEach(function (hit) {
        var title = hit.url ? el("a", {href: hit.url, target: "_blank", rel: "noopener", text: hit.title})
          : el("strong", {text: hit.title});
        list.appendChild(el("li", {}, [title, el("p", {text: hit.short_answer})]));
      });
    });
  });

  connect();
}());
