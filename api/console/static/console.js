// Switchyard console: the live calls table, kept current from the
// server's event stream. Every other page works without script.
"use strict";

(function () {
  var table = document.getElementById("live-calls");
  if (!table || !window.EventSource) {
    return;
  }
  var body = table.tBodies[0];
  var count = document.getElementById("live-count");
  var status = document.getElementById("live-status");
  var empty = document.getElementById("live-empty");
  var columns = ["started", "direction", "from", "to", "phone"];

  function cell(text) {
    var td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  function row(call) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-sid", call.sid);
    var link = document.createElement("a");
    link.className = "mono";
    link.href = call.url;
    link.setAttribute("aria-label", "Call " + call.sid);
    link.textContent = call.sid.slice(0, 12) + "\u2026";
    var first = document.createElement("td");
    first.appendChild(link);
    tr.appendChild(first);
    columns.forEach(function (key) {
      tr.appendChild(cell(call[key]));
    });
    var badge = document.createElement("span");
    badge.className = "status st-" + call.status;
    badge.textContent = call.status;
    var last = document.createElement("td");
    last.appendChild(badge);
    tr.appendChild(last);
    return tr;
  }

  function render(calls) {
    var rows = document.createDocumentFragment();
    calls.forEach(function (call) {
      rows.appendChild(row(call));
    });
    body.replaceChildren(rows);
    count.textContent = String(calls.length);
    empty.hidden = calls.length > 0;
    table.setAttribute("data-updated", String(Date.now()));
  }

  var source = new EventSource(table.getAttribute("data-stream"));
  source.addEventListener("open", function () {
    status.textContent = "Live.";
  });
  source.addEventListener("calls", function (event) {
    render(JSON.parse(event.data));
    status.textContent = "Live.";
  });
  source.addEventListener("signedout", function () {
    source.close();
    status.textContent = "Your session has ended: sign in again to see live calls.";
  });
  source.addEventListener("error", function () {
    status.textContent = source.readyState === EventSource.CLOSED
      ? "Disconnected: reload the page to see live calls."
      : "Reconnecting\u2026";
  });
  window.addEventListener("pagehide", function () {
    source.close();
  });
})();
