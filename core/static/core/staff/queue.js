/* Live work queue: listens on ws/staff/alerts/ and, when a ticket alert arrives (arrival at my post, a warning,
   an overdue mark), reloads the queue tables from the server and shows a toast. No libraries. */
(function () {
  "use strict";
  var container = document.getElementById("queue-tables");
  var toasts = document.getElementById("staff-toasts");
  if (!container || !("WebSocket" in window)) {
    return;
  }
  var fragmentUrl = container.getAttribute("data-fragment-url");
  var retryDelay = 1000;

  function refreshQueue() {
    return fetch(fragmentUrl, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(response.status);
        }
        return response.text();
      })
      .then(function (html) {
        container.innerHTML = html;
      })
      .catch(function () {
        /* The next alert or a reload of the page brings the queue back. */
      });
  }

  function showToast(alert) {
    if (!toasts) {
      return;
    }
    var toast = document.createElement("div");
    toast.className = "toast toast--" + alert.event;
    var title = document.createElement("strong");
    title.textContent = alert.subject || "";
    var body = document.createElement("div");
    body.textContent = alert.body || "";
    toast.appendChild(title);
    toast.appendChild(body);
    toasts.appendChild(toast);
    window.setTimeout(function () {
      toast.remove();
    }, 8000);
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + "/ws/staff/alerts/");
    socket.onopen = function () {
      retryDelay = 1000;
    };
    socket.onmessage = function (message) {
      var alert;
      try {
        alert = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      if (alert.type !== "alert" || typeof alert.event !== "string" || alert.event.indexOf("ticket_") !== 0) {
        return;
      }
      showToast(alert);
      refreshQueue();
    };
    socket.onclose = function (event) {
      if (event.code === 4403) {
        return; /* Refused: not signed in as staff any more. */
      }
      window.setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 30000);
    };
  }

  connect();
  /* Badges move from normal to warning to overdue with the clock even without an alert. */
  window.setInterval(refreshQueue, 60000);
})();
