// The supervisors' wallboard: the snapshot the page was rendered with, then every snapshot pushed on the
// websocket /ws/callcenter/ (at most one a second). Reconnects with backoff and catches up over HTTP when it
// does; while disconnected the page says so. Charts are drawn as SVG here, no library. Wording comes from the page.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var root = document.getElementById("wallboard");
  if (!root) {
    return;
  }
  var config = JSON.parse(document.getElementById("wallboard-config").textContent);
  var text = JSON.parse(document.getElementById("wallboard-text").textContent);
  var snapshot = JSON.parse(document.getElementById("wallboard-snapshot").textContent);
  var receivedAt = Date.now();
  var retryMs = 1000;
  var retryTimer = null;
  var countdownTimer = null;

  function byId(id) { return document.getElementById(id); }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) { return "—"; }
    seconds = Math.max(0, Math.floor(seconds));
    var hours = Math.floor(seconds / 3600);
    var minutes = Math.floor((seconds % 3600) / 60);
    var secs = seconds % 60;
    var mm = hours ? (minutes < 10 ? "0" : "") + minutes : String(minutes);
    return (hours ? hours + ":" : "") + mm + ":" + (secs < 10 ? "0" : "") + secs;
  }
  function percent(value) { return value === null || value === undefined ? "—" : value.toFixed(1) + "%"; }
  function elapsed() { return (Date.now() - receivedAt) / 1000; }
  function beijingTime(iso) {
    try {
      return new Date(iso).toLocaleTimeString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });
    } catch (error) {
      return iso;
    }
  }

  // --- tiles and tables -------------------------------------------------------------------------------------
  function setTile(key, value) {
    var node = byId("tile-" + key);
    if (node) { node.textContent = value; }
  }
  function renderTiles() {
    var today = snapshot.today;
    var waiting = snapshot.queue.waiting;
    setTile("waiting", String(waiting));
    setTile("longest_wait", duration(waiting ? snapshot.queue.longest_wait_seconds + elapsed() : 0));
    setTile("service_level", percent(today.service_level_percent));
    setTile("abandonment", percent(today.abandonment_percent));
    setTile("average_handle", duration(today.average_handle_seconds));
    setTile("calls", String(today.calls));
    setTile("answered", String(today.answered));
    setTile("ivr_answered", String(today.ivr_answered));
    setTile("storm_informed", String(today.storm_informed));
    var at = byId("wallboard-at");
    at.setAttribute("datetime", snapshot.at);
    at.textContent = beijingTime(snapshot.at);
  }
  function row(cells, className) {
    var tr = document.createElement("tr");
    if (className) { tr.className = className; }
    cells.forEach(function (value) {
      var td = document.createElement("td");
      td.textContent = value;
      tr.appendChild(td);
    });
    return tr;
  }
  function emptyRow(columns, message) {
    var tr = document.createElement("tr");
    var td = document.createElement("td");
    td.colSpan = columns;
    td.textContent = message;
    tr.appendChild(td);
    return tr;
  }
  function renderAgents() {
    var body = byId("agents-table").tBodies[0];
    body.replaceChildren();
    snapshot.agents.forEach(function (agent) {
      body.appendChild(row(
        [agent.name, agent.state_label, agent.reason, duration(agent.seconds_in_state + elapsed())],
        "agent agent--" + agent.state
      ));
    });
    if (!snapshot.agents.length) { body.appendChild(emptyRow(4, text.no_agents)); }
  }
  function renderHours() {
    var body = byId("hours-table").tBodies[0];
    body.replaceChildren();
    snapshot.hours.forEach(function (hour) {
      if (!hour.calls) { return; }
      body.appendChild(row([
        (hour.hour < 10 ? "0" : "") + hour.hour + ":00", String(hour.calls), String(hour.answered),
        String(hour.abandoned), String(hour.ivr_answered), percent(hour.service_level_percent),
        duration(hour.average_handle_seconds)
      ]));
    });
    if (!body.children.length) { body.appendChild(emptyRow(7, text.no_calls)); }
  }

  // --- charts -----------------------------------------------------------------------------------------------
  function svg(tag, attrs, content) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (content !== undefined) { node.textContent = content; }
    return node;
  }
  function niceMax(value) {
    if (value <= 5) { return 5; }
    var magnitude = Math.pow(10, Math.floor(Math.log10(value)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i += 1) {
      if (steps[i] * magnitude >= value) { return steps[i] * magnitude; }
    }
    return 10 * magnitude;
  }

  function drawHours() {
    var width = 720, height = 260, left = 40, right = 44, top = 12, bottom = 28;
    var plotWidth = width - left - right, plotHeight = height - top - bottom;
    var base = top + plotHeight;
    var last = snapshot.current_hour;
    snapshot.hours.forEach(function (hour) { if (hour.calls && hour.hour > last) { last = hour.hour; } });
    var shown = snapshot.hours.slice(0, last + 1);
    var peak = niceMax(Math.max.apply(null, shown.map(function (hour) { return hour.calls; }).concat([1])));
    var slot = plotWidth / shown.length;
    var barWidth = Math.max(4, slot * 0.7);
    var chart = svg("svg", {
      viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": text.hours_chart, "class": "chart__svg"
    });
    [0, 0.5, 1].forEach(function (fraction) {
      var y = base - plotHeight * fraction;
      chart.appendChild(svg("line", { x1: left, x2: width - right, y1: y, y2: y, "class": "chart__grid" }));
      var count = peak * fraction;
      chart.appendChild(svg("text", { x: left - 6, y: y + 4, "class": "chart__axis", "text-anchor": "end" },
        count % 1 ? count.toFixed(1) : String(count)));
      chart.appendChild(svg("text", { x: width - right + 6, y: y + 4, "class": "chart__axis" },
        Math.round(100 * fraction) + "%"));
    });
    var levelPoints = [];
    shown.forEach(function (hour, index) {
      var x = left + index * slot + (slot - barWidth) / 2;
      var other = Math.max(0, hour.calls - hour.answered - hour.abandoned - hour.ivr_answered);
      var y = base;
      [["answered", hour.answered], ["abandoned", hour.abandoned], ["ivr", hour.ivr_answered], ["other", other]]
        .forEach(function (part) {
          if (!part[1]) { return; }
          var barHeight = plotHeight * part[1] / peak;
          y -= barHeight;
          var bar = svg("rect", { x: x, y: y, width: barWidth, height: barHeight, "class": "bar bar--" + part[0] });
          bar.appendChild(svg("title", {}, (hour.hour < 10 ? "0" : "") + hour.hour + ":00 " +
            (text[part[0] === "ivr" ? "ivr_answered" : part[0]] || "") + " " + part[1]));
          chart.appendChild(bar);
        });
      if (hour.hour % 3 === 0 || shown.length <= 12) {
        chart.appendChild(svg("text", {
          x: left + index * slot + slot / 2, y: base + 18, "class": "chart__axis", "text-anchor": "middle"
        }, String(hour.hour)));
      }
      if (hour.service_level_percent !== null) {
        levelPoints.push((left + index * slot + slot / 2) + "," + (base - plotHeight * hour.service_level_percent / 100));
      }
    });
    if (levelPoints.length) {
      chart.appendChild(svg("polyline", { points: levelPoints.join(" "), "class": "chart__level" }));
      levelPoints.forEach(function (point) {
        var xy = point.split(",");
        chart.appendChild(svg("circle", { cx: xy[0], cy: xy[1], r: 3, "class": "chart__level-point" }));
      });
    }
    byId("hours-plot").replaceChildren(chart);
  }

  function drawAgents() {
    var states = ["ready", "on_call", "after_call_work", "not_ready"];
    var width = 360, rowHeight = 34, left = 96, right = 40;
    var height = states.length * rowHeight + 8;
    var most = Math.max.apply(null, states.map(function (state) { return snapshot.agents_by_state[state] || 0; }).concat([1]));
    var chart = svg("svg", {
      viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": text.agents_chart, "class": "chart__svg"
    });
    states.forEach(function (state, index) {
      var count = snapshot.agents_by_state[state] || 0;
      var y = 4 + index * rowHeight;
      var barWidth = (width - left - right) * count / most;
      chart.appendChild(svg("text", { x: left - 8, y: y + 20, "class": "chart__axis", "text-anchor": "end" },
        text.states[state]));
      chart.appendChild(svg("rect", { x: left, y: y + 4, width: Math.max(barWidth, 1), height: rowHeight - 10,
        "class": "bar bar--state-" + state }));
      chart.appendChild(svg("text", { x: left + barWidth + 6, y: y + 20, "class": "chart__value" }, String(count)));
    });
    byId("agents-plot").replaceChildren(chart);
  }

  function render() {
    renderTiles();
    renderAgents();
    renderHours();
    drawHours();
    drawAgents();
  }

  function takenAt(figures) {
    var moment = figures ? Date.parse(figures.at) : NaN;
    return isNaN(moment) ? null : moment;
  }
  function accept(next) {
    if (!next || !next.queue || !next.today || !next.hours) { return; }
    // A catch-up answer that left the server before the last push arrived must not undo it: older figures lose.
    var nextAt = takenAt(next), shownAt = takenAt(snapshot);
    if (nextAt !== null && shownAt !== null && nextAt < shownAt) { return; }
    snapshot = next;
    receivedAt = Date.now();
    render();
  }

  // --- connection -------------------------------------------------------------------------------------------
  function setLink(connected, message) {
    root.setAttribute("data-connected", connected ? "true" : "false");
    byId("wallboard-link").textContent = message;
  }
  function setPbx(connected) {
    var node = byId("wallboard-pbx");
    node.setAttribute("data-connected", connected ? "true" : "false");
    node.textContent = connected ? text.pbx_connected : text.pbx_disconnected;
  }
  function catchUp() {
    fetch(config.snapshot_url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (body) {
          accept(body.snapshot);
          setPbx(body.pbx_connected);
        }
      })
      .catch(function () { /* The next push brings the figures. */ });
  }
  function showCountdown(seconds) {
    window.clearInterval(countdownTimer);
    var left = seconds;
    setLink(false, text.disconnected.replace("%(seconds)s", String(left)));
    countdownTimer = window.setInterval(function () {
      left = Math.max(0, left - 1);
      setLink(false, text.disconnected.replace("%(seconds)s", String(left)));
    }, 1000);
  }
  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + config.ws_path);
    socket.onopen = function () {
      retryMs = 1000;
      window.clearInterval(countdownTimer);
      setLink(true, text.connected);
      catchUp();
    };
    socket.onmessage = function (message) {
      var payload;
      try {
        payload = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      if (payload.kind === "wallboard") {
        accept(payload.snapshot);
      } else if (payload.kind === "pbx_status") {
        setPbx(Boolean(payload.connected));
      }
    };
    socket.onclose = function (event) {
      if (event.code === 4403) {
        setLink(false, text.disconnected.replace("%(seconds)s", "—"));
        return;  // Refused: no longer a signed-in supervisor.
      }
      showCountdown(Math.round(retryMs / 1000));
      window.clearTimeout(retryTimer);
      retryTimer = window.setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    };
  }

  render();
  setLink(false, text.connecting);
  if ("WebSocket" in window) {
    connect();
  }
  // Waits and times in state move with the clock between pushes.
  window.setInterval(function () {
    renderTiles();
    renderAgents();
  }, 1000);
})();
