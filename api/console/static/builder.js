// Switchyard console: the flow builder. The flow's applets are drawn as
// nodes of an SVG graph; each applet is configured in a form built from
// the applet schemas the server sends. Everything the mouse does (drag a
// node, drag an output onto an applet) has a keyboard and form
// equivalent: nodes are focusable buttons, arrow keys move them, and
// every output is a select in the applet's form. Drafts are checked
// against the server's own validation as they change; saving, publishing
// and assigning ExoPhones go through the management API.
"use strict";

(function () {
  var root = document.getElementById("builder");
  if (!root) {
    return;
  }
  var boot = JSON.parse(root.getAttribute("data-boot"));
  var SVG = "http://www.w3.org/2000/svg";
  var NODE_W = 200, HEAD_H = 46, ROW_H = 22, GRID = 20, STEP = 20;
  var KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "*", "#"];

  var flowID = boot.flow.id;
  var doc = normalise(boot.flow.document);
  var schemas = {};
  boot.schemas.forEach(function (s) { schemas[s.type] = s; });
  var selected = null;
  var problems = [];
  var dirty = false;
  var path = [];
  var validateTimer = null;
  var validating = 0;

  var canvas = document.getElementById("canvas");
  var svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("role", "group");
  svg.setAttribute("aria-label", "The flow's applets");
  var edgeLayer = document.createElementNS(SVG, "g");
  var nodeLayer = document.createElementNS(SVG, "g");
  var dragLine = document.createElementNS(SVG, "path");
  dragLine.setAttribute("class", "edge dragging");
  dragLine.setAttribute("hidden", "");
  svg.appendChild(defs());
  svg.appendChild(edgeLayer);
  svg.appendChild(nodeLayer);
  svg.appendChild(dragLine);
  canvas.appendChild(svg);

  var inspector = document.getElementById("inspector-body");
  var stateText = document.getElementById("flow-state");
  var problemList = document.getElementById("problems");
  var nameInput = document.getElementById("flow-name");

  // ---- the document ----

  function normalise(d) {
    d = d && typeof d === "object" ? d : {};
    d.applets = d.applets && typeof d.applets === "object" ? d.applets : {};
    d.layout = d.layout && typeof d.layout === "object" ? d.layout : {};
    Object.keys(d.applets).forEach(function (id) {
      var a = d.applets[id];
      a.config = a.config || {};
      a.outputs = a.outputs || {};
    });
    autoLayout(d);
    return d;
  }

  // autoLayout places applets the layout does not know, a column per
  // step from the start.
  function autoLayout(d) {
    var depth = {}, queue = [];
    if (d.start && d.applets[d.start]) {
      depth[d.start] = 0;
      queue.push(d.start);
    }
    while (queue.length) {
      var id = queue.shift();
      var outs = d.applets[id].outputs || {};
      Object.keys(outs).forEach(function (o) {
        var to = outs[o];
        if (d.applets[to] && depth[to] === undefined) {
          depth[to] = depth[id] + 1;
          queue.push(to);
        }
      });
    }
    var rows = {};
    Object.keys(d.applets).sort().forEach(function (id) {
      if (d.layout[id]) {
        return;
      }
      var col = depth[id] === undefined ? 0 : depth[id];
      rows[col] = (rows[col] || 0) + 1;
      d.layout[id] = {x: 40 + col * 260, y: 40 + (rows[col] - 1) * 170 + (depth[id] === undefined ? 400 : 0)};
    });
  }

  // document is what is saved: the applets without empty configs and
  // outputs, and positions of applets that exist.
  function documentJSON() {
    var out = {};
    Object.keys(doc).forEach(function (k) {
      if (k !== "applets" && k !== "layout") {
        out[k] = doc[k];
      }
    });
    out.applets = {};
    out.layout = {};
    Object.keys(doc.applets).forEach(function (id) {
      var a = doc.applets[id], copy = {type: a.type};
      if (a.name) {
        copy.name = a.name;
      }
      if (Object.keys(a.config).length) {
        copy.config = a.config;
      }
      var outs = {};
      Object.keys(a.outputs).forEach(function (o) {
        if (a.outputs[o]) {
          outs[o] = a.outputs[o];
        }
      });
      if (Object.keys(outs).length) {
        copy.outputs = outs;
      }
      out.applets[id] = copy;
      var p = doc.layout[id];
      if (p) {
        out.layout[id] = {x: Math.round(p.x), y: Math.round(p.y)};
      }
    });
    return out;
  }

  function changed() {
    dirty = true;
    path = [];
    setState("Unsaved changes.");
    render();
    clearTimeout(validateTimer);
    validateTimer = setTimeout(validate, 350);
  }

  function setState(text) {
    stateText.textContent = text;
  }

  // outputsOf lists an applet's outputs in display order: the schema's,
  // then keys or cases the applet has.
  function outputsOf(id) {
    var a = doc.applets[id], s = schemas[a.type];
    var list = [];
    if (!s) {
      return Object.keys(a.outputs);
    }
    s.outputs.forEach(function (o) { list.push(o.name); });
    if (a.type === "transfer" && a.config.flow) {
      list = [];
    }
    Object.keys(a.outputs).forEach(function (o) {
      if (list.indexOf(o) < 0) {
        list.push(o);
      }
    });
    return list;
  }

  function outputLabel(type, name) {
    var s = schemas[type];
    var found = s && s.outputs.filter(function (o) { return o.name === name; })[0];
    if (found) {
      return found.label;
    }
    if (s && s.dynamic_outputs === "keys") {
      return "Key " + name;
    }
    return "Case " + name;
  }

  function label(id) {
    var a = doc.applets[id];
    return a.name ? a.name : id;
  }

  function typeLabel(type) {
    return schemas[type] ? schemas[type].label : type;
  }

  function problemsOf(id) {
    return problems.filter(function (p) { return p.applet === id; });
  }

  // ---- drawing ----

  function defs() {
    var d = document.createElementNS(SVG, "defs");
    var m = document.createElementNS(SVG, "marker");
    m.setAttribute("id", "arrow");
    m.setAttribute("viewBox", "0 0 10 10");
    m.setAttribute("refX", "9");
    m.setAttribute("refY", "5");
    m.setAttribute("markerUnits", "userSpaceOnUse");
    m.setAttribute("markerWidth", "12");
    m.setAttribute("markerHeight", "12");
    m.setAttribute("orient", "auto-start-reverse");
    var p = document.createElementNS(SVG, "path");
    p.setAttribute("d", "M 0 0 L 10 5 L 0 10 z");
    p.setAttribute("class", "arrowhead");
    m.appendChild(p);
    d.appendChild(m);
    return d;
  }

  function el(name, attrs, parent) {
    var e = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (parent) {
      parent.appendChild(e);
    }
    return e;
  }

  function nodeHeight(id) {
    return HEAD_H + Math.max(outputsOf(id).length, 0) * ROW_H + 8;
  }

  function portPoint(id, i) {
    var p = doc.layout[id];
    return {x: p.x + NODE_W, y: p.y + HEAD_H + i * ROW_H + ROW_H / 2};
  }

  function curve(a, b) {
    var dx = Math.max(40, Math.abs(b.x - a.x) / 2);
    return "M " + a.x + " " + a.y + " C " + (a.x + dx) + " " + a.y + ", " + (b.x - dx) + " " + b.y + ", " + b.x + " " + b.y;
  }

  function onPath(from, to) {
    for (var i = 0; i + 1 < path.length; i++) {
      if (path[i] === from && path[i + 1] === to) {
        return true;
      }
    }
    return false;
  }

  function render() {
    var ids = Object.keys(doc.applets).sort();
    edgeLayer.replaceChildren();
    nodeLayer.replaceChildren();
    var maxX = 600, maxY = 400;
    ids.forEach(function (id) {
      var p = doc.layout[id];
      maxX = Math.max(maxX, p.x + NODE_W + 80);
      maxY = Math.max(maxY, p.y + nodeHeight(id) + 60);
    });
    svg.setAttribute("width", String(maxX));
    svg.setAttribute("height", String(maxY));
    svg.setAttribute("viewBox", "0 0 " + maxX + " " + maxY);

    if (doc.start && doc.applets[doc.start]) {
      var s = doc.layout[doc.start];
      el("path", {d: "M " + (s.x + 30) + " " + Math.max(s.y - 34, 2) + " L " + (s.x + 30) + " " + (s.y - 2),
        "class": "edge start-edge", "marker-end": "url(#arrow)"}, edgeLayer);
    }
    ids.forEach(function (id) {
      var a = doc.applets[id];
      outputsOf(id).forEach(function (o, i) {
        var to = a.outputs[o];
        if (!to || !doc.applets[to]) {
          return;
        }
        var t = doc.layout[to];
        var cls = "edge" + (onPath(id, to) ? " on-path" : "");
        el("path", {d: curve(portPoint(id, i), {x: t.x - 2, y: t.y + HEAD_H / 2}), "class": cls,
          "marker-end": "url(#arrow)", "data-from": id, "data-output": o, "data-to": to}, edgeLayer);
      });
    });
    ids.forEach(function (id) { nodeLayer.appendChild(drawNode(id)); });
  }

  function drawNode(id) {
    var a = doc.applets[id], p = doc.layout[id], outs = outputsOf(id);
    var errs = problemsOf(id).filter(function (x) { return x.severity === "error"; });
    var warns = problemsOf(id).filter(function (x) { return x.severity !== "error"; });
    var step = path.indexOf(id);
    var cls = "node" + (id === selected ? " selected" : "") + (errs.length ? " has-error" : warns.length ? " has-warning" : "") +
      (step >= 0 ? " on-path" : "") + (id === doc.start ? " start" : "");
    var g = el("g", {"class": cls, transform: "translate(" + p.x + "," + p.y + ")", tabindex: "0", role: "button",
      "data-id": id, "aria-pressed": id === selected ? "true" : "false"});
    var desc = typeLabel(a.type) + " " + label(id) + (id === doc.start ? ", the start" : "") +
      (errs.length ? ", " + errs.length + " error" + (errs.length > 1 ? "s" : "") : "") +
      (step >= 0 ? ", on the test call's path" : "");
    g.setAttribute("aria-label", desc);
    el("rect", {"class": "node-box", width: NODE_W, height: nodeHeight(id), rx: 8}, g);
    el("rect", {"class": "node-head type-" + a.type, width: NODE_W, height: HEAD_H - 6, rx: 8}, g);
    var t = el("text", {x: 12, y: 18, "class": "node-type"}, g);
    t.textContent = typeLabel(a.type);
    var n = el("text", {x: 12, y: 34, "class": "node-name"}, g);
    n.textContent = clip(label(id), 24);
    if (errs.length || warns.length) {
      var badge = el("g", {"class": "badge " + (errs.length ? "badge-error" : "badge-warning"),
        transform: "translate(" + (NODE_W - 22) + ",10)"}, g);
      el("circle", {r: 10, cx: 8, cy: 8}, badge);
      var bt = el("text", {x: 8, y: 12, "text-anchor": "middle"}, badge);
      bt.textContent = String(errs.length || warns.length);
      var title = el("title", {}, badge);
      title.textContent = (errs.length ? errs : warns).map(function (x) { return x.message; }).join("\n");
    }
    if (step >= 0) {
      var order = el("g", {"class": "badge badge-path", transform: "translate(" + (NODE_W - 46) + ",10)"}, g);
      el("circle", {r: 10, cx: 8, cy: 8}, order);
      var ot = el("text", {x: 8, y: 12, "text-anchor": "middle"}, order);
      ot.textContent = String(step + 1);
    }
    outs.forEach(function (o, i) {
      var y = HEAD_H + i * ROW_H;
      var ol = el("text", {x: 12, y: y + 15, "class": "node-output"}, g);
      var to = a.outputs[o];
      ol.textContent = clip(outputLabel(a.type, o), 16) + (to ? " → " + clip(label(to) || to, 9) : "");
      var port = el("circle", {"class": "port" + (to ? " linked" : ""), cx: NODE_W, cy: y + ROW_H / 2, r: 7,
        "data-output": o}, g);
      port.addEventListener("pointerdown", function (ev) { startLink(ev, id, o, i); });
    });
    g.addEventListener("pointerdown", function (ev) { startMove(ev, id); });
    g.addEventListener("keydown", function (ev) { nodeKey(ev, id); });
    g.addEventListener("focus", function () { g.classList.add("focused"); });
    g.addEventListener("blur", function () { g.classList.remove("focused"); });
    return g;
  }

  function clip(s, n) {
    s = String(s);
    return s.length > n ? s.slice(0, n - 1) + "\u2026" : s;
  }

  function focusNode(id) {
    var g = nodeLayer.querySelector('g.node[data-id="' + cssEscape(id) + '"]');
    if (g) {
      g.focus();
    }
  }

  function cssEscape(s) {
    return window.CSS && CSS.escape ? CSS.escape(s) : s.replace(/["\\]/g, "\\$&");
  }

  // ---- mouse and keyboard on the canvas ----

  function svgPoint(ev) {
    var r = svg.getBoundingClientRect();
    var vb = svg.viewBox.baseVal;
    var scale = vb && vb.width ? vb.width / r.width : 1;
    return {x: (ev.clientX - r.left) * scale, y: (ev.clientY - r.top) * scale};
  }

  function startMove(ev, id) {
    if (ev.button !== 0 || ev.target.classList.contains("port")) {
      return;
    }
    var start = svgPoint(ev), origin = {x: doc.layout[id].x, y: doc.layout[id].y}, moved = false;
    var g = ev.currentTarget;
    g.setPointerCapture(ev.pointerId);
    function move(e) {
      var p = svgPoint(e);
      var nx = snap(origin.x + p.x - start.x), ny = snap(origin.y + p.y - start.y);
      if (nx !== doc.layout[id].x || ny !== doc.layout[id].y) {
        moved = true;
        doc.layout[id] = {x: Math.max(0, nx), y: Math.max(0, ny)};
        g.setAttribute("transform", "translate(" + doc.layout[id].x + "," + doc.layout[id].y + ")");
      }
    }
    function up() {
      g.removeEventListener("pointermove", move);
      g.removeEventListener("pointerup", up);
      g.removeEventListener("pointercancel", up);
      if (moved) {
        changed();
      }
      select(id);
      focusNode(id);
    }
    g.addEventListener("pointermove", move);
    g.addEventListener("pointerup", up);
    g.addEventListener("pointercancel", up);
  }

  function snap(v) {
    return Math.round(v / GRID) * GRID;
  }

  // startLink drags a line from an output's port; dropped on an applet,
  // the output leads there.
  function startLink(ev, id, output, i) {
    if (ev.button !== 0) {
      return;
    }
    ev.stopPropagation();
    ev.preventDefault();
    var from = portPoint(id, i), port = ev.target;
    port.setPointerCapture(ev.pointerId);
    dragLine.removeAttribute("hidden");
    function move(e) {
      dragLine.setAttribute("d", curve(from, svgPoint(e)));
    }
    function up(e) {
      port.removeEventListener("pointermove", move);
      port.removeEventListener("pointerup", up);
      port.removeEventListener("pointercancel", up);
      dragLine.setAttribute("hidden", "");
      var p = svgPoint(e), target = null;
      Object.keys(doc.applets).forEach(function (other) {
        var l = doc.layout[other];
        if (p.x >= l.x && p.x <= l.x + NODE_W && p.y >= l.y && p.y <= l.y + nodeHeight(other)) {
          target = other;
        }
      });
      if (target && target !== id) {
        doc.applets[id].outputs[output] = target;
        changed();
        select(id);
      }
    }
    port.addEventListener("pointermove", move);
    port.addEventListener("pointerup", up);
    port.addEventListener("pointercancel", up);
  }

  function nodeKey(ev, id) {
    var l = doc.layout[id], d = {ArrowLeft: [-STEP, 0], ArrowRight: [STEP, 0], ArrowUp: [0, -STEP], ArrowDown: [0, STEP]}[ev.key];
    if (d) {
      ev.preventDefault();
      doc.layout[id] = {x: Math.max(0, l.x + d[0]), y: Math.max(0, l.y + d[1])};
      changed();
      focusNode(id);
      return;
    }
    if (ev.key === "Enter" || ev.key === " ") {
      ev.preventDefault();
      select(id);
      var first = inspector.querySelector("input, select, textarea, button");
      if (first) {
        first.focus();
      }
      return;
    }
    if (ev.key === "Delete") {
      ev.preventDefault();
      removeApplet(id);
    }
  }

  // ---- applets ----

  function newID(type) {
    var n = 1;
    while (doc.applets[type + "_" + n]) {
      n++;
    }
    return type + "_" + n;
  }

  function addApplet(type) {
    var id = newID(type);
    var near = selected && doc.layout[selected];
    var x = near ? near.x + 260 : 40, y = near ? near.y : 40;
    while (Object.keys(doc.layout).some(function (o) {
      return doc.applets[o] && Math.abs(doc.layout[o].x - x) < NODE_W && Math.abs(doc.layout[o].y - y) < 120;
    })) {
      y += 140;
    }
    doc.applets[id] = {type: type, config: {}, outputs: {}};
    doc.layout[id] = {x: x, y: y};
    if (!doc.start) {
      doc.start = id;
    }
    selected = id;
    changed();
    renderInspector();
    var first = inspector.querySelector("input, select, textarea");
    if (first) {
      first.focus();
    }
  }

  function removeApplet(id) {
    delete doc.applets[id];
    delete doc.layout[id];
    Object.keys(doc.applets).forEach(function (other) {
      var outs = doc.applets[other].outputs;
      Object.keys(outs).forEach(function (o) {
        if (outs[o] === id) {
          delete outs[o];
        }
      });
    });
    if (doc.start === id) {
      doc.start = Object.keys(doc.applets).sort()[0] || "";
    }
    selected = null;
    changed();
    renderInspector();
    document.getElementById("palette").querySelector("button").focus();
  }

  function select(id) {
    selected = id;
    render();
    renderInspector();
  }

  // ---- the applet's form, built from its schema ----

  var fieldSeq = 0;

  function h(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (attrs[k] !== undefined && attrs[k] !== null && attrs[k] !== false) {
        e.setAttribute(k, attrs[k] === true ? "" : attrs[k]);
      }
    });
    if (text !== undefined) {
      e.textContent = text;
    }
    return e;
  }

  function renderInspector() {
    inspector.replaceChildren();
    if (!selected || !doc.applets[selected]) {
      inspector.appendChild(h("p", {"class": "muted"}, "Select an applet on the canvas (click it, or Tab to it and press Enter) to configure it, or add one."));
      return;
    }
    var id = selected, a = doc.applets[id], s = schemas[a.type] || {fields: [], outputs: []};
    var head = h("div", {"class": "inspector-head"});
    head.appendChild(h("p", {"class": "applet-type"}, typeLabel(a.type)));
    head.appendChild(h("p", {"class": "muted small"}, s.description || ""));
    inspector.appendChild(head);

    var own = problemsOf(id);
    if (own.length) {
      var ul = h("ul", {"class": "problem-list", "aria-label": "Problems of this applet"});
      own.forEach(function (p) {
        ul.appendChild(h("li", {"class": "problem-" + p.severity}, (p.field ? p.field + ": " : "") + p.message));
      });
      inspector.appendChild(ul);
    }

    inspector.appendChild(textField("Name", "A name shown on the canvas (optional).", a.name || "", function (v) {
      if (v) {
        a.name = v;
      } else {
        delete a.name;
      }
    }, "applet-name"));
    inspector.appendChild(h("p", {"class": "muted small mono"}, "Id: " + id));

    var fields = h("div", {"class": "fields"});
    var advanced = h("details", {"class": "advanced"});
    advanced.appendChild(h("summary", {}, "More settings"));
    s.fields.forEach(function (f) {
      (f.advanced ? advanced : fields).appendChild(field(f, a.config, "config." + f.name));
    });
    inspector.appendChild(fields);
    if (advanced.children.length > 1) {
      inspector.appendChild(advanced);
    }
    inspector.appendChild(outputsForm(id));

    var actions = h("div", {"class": "actions"});
    if (doc.start !== id) {
      var startBtn = h("button", {type: "button", "class": "secondary"}, "Start the flow here");
      startBtn.addEventListener("click", function () {
        doc.start = id;
        changed();
        renderInspector();
      });
      actions.appendChild(startBtn);
    } else {
      actions.appendChild(h("span", {"class": "muted"}, "Calls start here."));
    }
    var del = h("button", {type: "button", "class": "danger"}, "Delete applet");
    del.addEventListener("click", function () { removeApplet(id); });
    actions.appendChild(del);
    inspector.appendChild(actions);
  }

  function problemFor(path) {
    return problemsOf(selected).filter(function (p) { return p.field === path || p.field.indexOf(path + ".") === 0 || p.field.indexOf(path + "[") === 0; });
  }

  function wrap(labelText, help, control, path) {
    var box = h("div", {"class": "field"});
    var lab = h("label", {"for": control.id}, labelText);
    box.appendChild(lab);
    box.appendChild(control);
    var ids = [];
    if (help) {
      var hp = h("p", {"class": "help", id: control.id + "-help"}, help);
      box.appendChild(hp);
      ids.push(hp.id);
    }
    var errs = path ? problemFor(path) : [];
    if (errs.length) {
      var ep = h("p", {"class": "field-error", id: control.id + "-err"}, errs.map(function (p) { return p.message; }).join("; "));
      box.appendChild(ep);
      ids.push(ep.id);
      control.setAttribute("aria-invalid", "true");
    }
    if (ids.length) {
      control.setAttribute("aria-describedby", ids.join(" "));
    }
    return box;
  }

  function textField(labelText, help, value, set, name, multiline) {
    var c = h(multiline ? "textarea" : "input", {id: "f" + (++fieldSeq), name: name, autocomplete: "off", rows: multiline ? 3 : undefined});
    c.value = value;
    c.addEventListener("input", function () {
      set(c.value.trim() ? c.value : "");
      changed();
    });
    return wrap(labelText, help, c);
  }

  // field builds the control of one schema field, writing into obj.
  function field(f, obj, path) {
    var id = "f" + (++fieldSeq), v = obj[f.name], c, help = f.help || "";
    var def = f["default"];
    switch (f.kind) {
    case "bool":
      c = h("input", {type: "checkbox", id: id, name: f.name});
      c.checked = v === undefined ? def === true : !!v;
      c.addEventListener("change", function () {
        if (c.checked === (def === true)) {
          delete obj[f.name];
        } else {
          obj[f.name] = c.checked;
        }
        changed();
      });
      var box = wrap(f.label, help, c, path);
      box.classList.add("check");
      return box;
    case "number":
      c = h("input", {type: "number", id: id, name: f.name, inputmode: "numeric", min: f.min, max: f.max,
        placeholder: def !== undefined && def !== null ? String(def) : ""});
      c.value = v === undefined ? "" : String(v);
      c.addEventListener("input", function () {
        var n = parseInt(c.value, 10);
        if (c.value.trim() === "" || isNaN(n)) {
          delete obj[f.name];
        } else {
          obj[f.name] = n;
        }
        changed();
      });
      break;
    case "select":
      c = h("select", {id: id, name: f.name});
      if (!f.required) {
        c.appendChild(h("option", {value: ""}, def ? "Default (" + def + ")" : "None"));
      }
      (f.options || []).forEach(function (o) {
        if (o !== "") {
          c.appendChild(h("option", {value: o}, o));
        }
      });
      c.value = v === undefined ? "" : String(v);
      c.addEventListener("change", function () {
        if (c.value === "") {
          delete obj[f.name];
        } else {
          obj[f.name] = c.value;
        }
        changed();
      });
      break;
    case "prompt":
      return promptField(f, obj, path);
    case "object":
      return objectField(f, obj, path);
    case "strings":
    case "dates":
      c = h("textarea", {id: id, name: f.name, rows: 3, autocomplete: "off"});
      c.value = Array.isArray(v) ? v.join("\n") : "";
      help = (help ? help + " " : "") + "One per line.";
      c.addEventListener("input", function () {
        setList(obj, f.name, c.value.split("\n").map(function (x) { return x.trim(); }).filter(Boolean));
      });
      break;
    case "windows":
      c = h("textarea", {id: id, name: f.name, rows: 3, autocomplete: "off"});
      c.value = (Array.isArray(v) ? v : []).map(function (w) {
        return (w.days || []).join(" ") + " " + w.open + "-" + w["close"];
      }).join("\n");
      help = (help ? help + " " : "") + "One window per line: days, then hours, e.g. \u201cmon tue wed thu fri 09:00-18:00\u201d.";
      c.addEventListener("input", function () {
        var list = [];
        c.value.split("\n").forEach(function (line) {
          var m = line.trim().match(/^(.*?)\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})$/);
          if (m) {
            list.push({days: m[1].toLowerCase().split(/[\s,]+/).filter(Boolean), open: m[2], "close": m[3]});
          } else if (line.trim()) {
            list.push({days: line.trim().toLowerCase().split(/[\s,]+/), open: "", "close": ""});
          }
        });
        setList(obj, f.name, list);
      });
      break;
    case "multiline":
      c = h("textarea", {id: id, name: f.name, rows: 3, autocomplete: "off"});
      c.value = v === undefined ? "" : String(v);
      c.addEventListener("input", function () { setText(obj, f.name, c.value); });
      break;
    default: // text, url
      c = h("input", {id: id, name: f.name, autocomplete: "off", type: f.kind === "url" ? "url" : "text",
        placeholder: typeof def === "string" && def.indexOf("://") < 0 ? def : ""});
      if (f.name === "flow" && boot.flows) {
        c.setAttribute("list", "flow-ids");
      }
      c.value = v === undefined ? "" : String(v);
      c.addEventListener("input", function () { setText(obj, f.name, c.value); });
    }
    if (f.required) {
      c.setAttribute("aria-required", "true");
    }
    return wrap(f.label + (f.required ? " (required)" : ""), help, c, path);
  }

  // setList keeps a list field, or leaves it out when empty.
  function setList(obj, name, list) {
    if (list.length) {
      obj[name] = list;
    } else {
      delete obj[name];
    }
    changed();
  }

  function setText(obj, name, value) {
    if (value.trim() === "") {
      delete obj[name];
    } else {
      obj[name] = value;
    }
    changed();
  }

  // promptField edits a prompt: text to speak or audio to play.
  function promptField(f, obj, path) {
    var set = h("fieldset", {"class": "prompt"});
    set.appendChild(h("legend", {}, f.label + (f.required ? " (required)" : "")));
    if (f.help) {
      set.appendChild(h("p", {"class": "help"}, f.help));
    }
    var cur = obj[f.name] || {};
    function update(key, value) {
      var p = obj[f.name] || {};
      if (value.trim() === "") {
        delete p[key];
      } else {
        p[key] = value;
      }
      if (Object.keys(p).length) {
        obj[f.name] = p;
      } else {
        delete obj[f.name];
      }
      changed();
    }
    [["text", "Text to speak", "multiline"], ["audio", "Or audio to play (URL or file)", "url"], ["voice", "Voice (optional)", "text"]].forEach(function (part) {
      var id = "f" + (++fieldSeq);
      var c = h(part[2] === "multiline" ? "textarea" : "input", {id: id, name: f.name + "." + part[0], autocomplete: "off", rows: part[2] === "multiline" ? 2 : undefined});
      c.value = cur[part[0]] || "";
      c.addEventListener("input", function () { update(part[0], c.value); });
      set.appendChild(wrap(part[1], "", c, path + "." + part[0]));
    });
    var errs = problemFor(path).filter(function (p) { return p.field === path; });
    if (errs.length) {
      set.appendChild(h("p", {"class": "field-error"}, errs.map(function (p) { return p.message; }).join("; ")));
    }
    return set;
  }

  // objectField edits a nested settings object; it is left out of the
  // document while all its fields are empty.
  function objectField(f, obj, path) {
    var set = h("fieldset", {"class": "object"});
    set.appendChild(h("legend", {}, f.label));
    if (f.help) {
      set.appendChild(h("p", {"class": "help"}, f.help));
    }
    var inner = obj[f.name] || {};
    var proxy = {};
    Object.keys(inner).forEach(function (k) { proxy[k] = inner[k]; });
    var view = new Proxy(proxy, {
      set: function (t, k, v) {
        t[k] = v;
        obj[f.name] = t;
        return true;
      },
      deleteProperty: function (t, k) {
        delete t[k];
        if (Object.keys(t).length) {
          obj[f.name] = t;
        } else {
          delete obj[f.name];
        }
        return true;
      }
    });
    (f.fields || []).forEach(function (sub) {
      set.appendChild(field(sub, view, path + "." + sub.name));
    });
    return set;
  }

  // outputsForm sets where each output leads, and adds keys or cases.
  function outputsForm(id) {
    var a = doc.applets[id], s = schemas[a.type] || {outputs: []};
    var set = h("fieldset", {"class": "outputs"});
    set.appendChild(h("legend", {}, "Where the call goes next"));
    var outs = outputsOf(id);
    if (!outs.length) {
      set.appendChild(h("p", {"class": "muted"}, a.type === "hangup" ? "The call ends here." : "This applet has no outputs."));
    }
    outs.forEach(function (o) {
      var c = h("select", {id: "f" + (++fieldSeq), name: "output." + o, "data-output": o});
      c.appendChild(h("option", {value: ""}, "End the call"));
      Object.keys(doc.applets).sort().forEach(function (other) {
        if (other !== id) {
          c.appendChild(h("option", {value: other}, label(other) + (label(other) !== other ? " (" + other + ")" : "") + " \u2013 " + typeLabel(doc.applets[other].type)));
        }
      });
      c.value = a.outputs[o] && doc.applets[a.outputs[o]] ? a.outputs[o] : "";
      c.addEventListener("change", function () {
        if (c.value) {
          a.outputs[o] = c.value;
        } else {
          delete a.outputs[o];
        }
        changed();
      });
      var schemaOut = s.outputs.filter(function (x) { return x.name === o; })[0];
      var box = wrap(outputLabel(a.type, o) + (schemaOut && schemaOut.required ? " (required)" : ""),
        schemaOut ? schemaOut.description : "", c, "outputs." + o);
      if (!schemaOut) {
        var rm = h("button", {type: "button", "class": "link"}, "Remove " + outputLabel(a.type, o));
        rm.addEventListener("click", function () {
          delete a.outputs[o];
          changed();
          renderInspector();
        });
        box.appendChild(rm);
      }
      set.appendChild(box);
    });
    if (s.dynamic_outputs === "keys" || s.dynamic_outputs === "cases") {
      var row = h("div", {"class": "add-output"});
      var input;
      if (s.dynamic_outputs === "keys") {
        input = h("select", {id: "f" + (++fieldSeq), name: "new-key"});
        KEYS.filter(function (k) { return !(k in a.outputs); }).forEach(function (k) {
          input.appendChild(h("option", {value: k}, "Key " + k));
        });
      } else {
        input = h("input", {id: "f" + (++fieldSeq), name: "new-case", autocomplete: "off", placeholder: "vip"});
      }
      var lab = s.dynamic_outputs === "keys" ? "Add a key" : "Add a case";
      row.appendChild(wrap(lab, "", input));
      var add = h("button", {type: "button", "class": "secondary"}, lab);
      add.addEventListener("click", function () {
        var k = input.value.trim();
        if (!k || k in a.outputs) {
          return;
        }
        a.outputs[k] = "";
        changed();
        renderInspector();
        var sel = inspector.querySelector('select[data-output="' + cssEscape(k) + '"]');
        if (sel) {
          sel.focus();
        }
      });
      row.appendChild(add);
      set.appendChild(row);
    }
    return set;
  }

  // ---- talking to the server ----

  function request(method, url, body) {
    var opts = {method: method, credentials: "same-origin", headers: {"X-CSRF-Token": boot.csrf, "Accept": "application/json"}};
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts).then(function (resp) {
      var type = resp.headers.get("Content-Type") || "";
      if (type.indexOf("json") < 0) {
        throw new Error(resp.status === 403 ? "Your session has ended: reload the page and sign in again." : "The server answered " + resp.status + ".");
      }
      return resp.json().then(function (data) { return {status: resp.status, data: data}; });
    });
  }

  function apiError(r) {
    var d = r.data && r.data.response && r.data.response.error_data;
    if (d && d.problems) {
      problems = d.problems;
      renderProblems();
      render();
      renderInspector();
    }
    return d ? d.message || d.description : "The request failed (" + r.status + ").";
  }

  function validate() {
    var seq = ++validating;
    request("POST", boot.api + "flows/" + flowID + "/validate", {document: documentJSON()}).then(function (r) {
      if (seq !== validating) {
        return;
      }
      var v = r.data && r.data.response && r.data.response.validation;
      if (!v) {
        setState(apiError(r));
        return;
      }
      problems = (v.errors || []).concat(v.warnings || []);
      renderProblems();
      render();
      var focused = document.activeElement;
      if (!inspector.contains(focused)) {
        renderInspector();
      } else {
        markFields();
      }
      root.setAttribute("data-valid", v.valid ? "true" : "false");
    }).catch(function (err) { setState(err.message); });
  }

  // markFields updates the open form's error marks without rebuilding it
  // (which would take the focus from the field being typed in).
  function markFields() {
    var list = inspector.querySelector(".problem-list");
    var own = problemsOf(selected);
    var fresh = h("ul", {"class": "problem-list", "aria-label": "Problems of this applet"});
    own.forEach(function (p) {
      fresh.appendChild(h("li", {"class": "problem-" + p.severity}, (p.field ? p.field + ": " : "") + p.message));
    });
    if (list) {
      list.replaceWith(fresh);
    } else if (own.length) {
      inspector.querySelector(".inspector-head").after(fresh);
    }
  }

  function renderProblems() {
    problemList.replaceChildren();
    var n = problems.length;
    document.getElementById("problem-count").textContent = n ? String(n) : "none";
    problems.forEach(function (p) {
      var li = h("li", {"class": "problem-" + p.severity});
      li.appendChild(h("span", {"class": "status " + (p.severity === "error" ? "st-failed" : "st-busy")}, p.severity));
      li.appendChild(document.createTextNode(" "));
      if (p.applet && doc.applets[p.applet]) {
        var b = h("button", {type: "button", "class": "link"}, label(p.applet));
        b.addEventListener("click", function () {
          select(p.applet);
          focusNode(p.applet);
        });
        li.appendChild(b);
        li.appendChild(document.createTextNode(" "));
      }
      li.appendChild(document.createTextNode((p.field ? p.field + ": " : "") + p.message));
      problemList.appendChild(li);
    });
  }

  function save() {
    var name = nameInput.value.trim();
    setState("Saving\u2026");
    return request("PUT", boot.api + "flows/" + flowID, {name: name, document: documentJSON()}).then(function (r) {
      if (r.status !== 200) {
        setState("Not saved: " + apiError(r));
        return false;
      }
      dirty = false;
      var w = r.data.response.warnings || [];
      problems = w;
      renderProblems();
      render();
      setState("Draft saved" + (w.length ? " with " + w.length + " warning" + (w.length > 1 ? "s" : "") : "") + ".");
      root.setAttribute("data-saved", String(Date.now()));
      return true;
    }).catch(function (err) {
      setState(err.message);
      return false;
    });
  }

  function publish() {
    (dirty ? save() : Promise.resolve(true)).then(function (ok) {
      if (!ok) {
        return;
      }
      setState("Publishing\u2026");
      request("POST", boot.api + "flows/" + flowID + "/publish").then(function (r) {
        if (r.status !== 200) {
          setState("Not published: " + apiError(r));
          return;
        }
        var v = r.data.response.flow_version.version;
        location.assign("/console/flows/" + encodeURIComponent(flowID) + "?published=" + v);
      }).catch(function (err) { setState(err.message); });
    });
  }

  // ---- ExoPhones ----

  function renderPhones() {
    var rows = document.querySelectorAll("#exophones tbody tr");
    Array.prototype.forEach.call(rows, function (tr) {
      var number = tr.getAttribute("data-number");
      var phone = boot.exophones.filter(function (p) { return p.number === number; })[0];
      var runs = tr.querySelector(".runs"), btn = tr.querySelector("button");
      if (phone.flow_id === flowID) {
        runs.textContent = "this flow";
        btn.textContent = "Unassign";
        btn.setAttribute("aria-label", "Unassign " + number + " from this flow");
      } else {
        var other = (boot.flows || []).filter(function (f) { return f.id === phone.flow_id; })[0];
        runs.textContent = phone.flow_id ? (other ? other.name : phone.flow_id) : "nothing";
        btn.textContent = "Assign to this flow";
        btn.setAttribute("aria-label", "Assign " + number + " to this flow");
      }
    });
    var to = document.getElementById("test-to");
    if (to) {
      var mine = boot.exophones.filter(function (p) { return p.flow_id === flowID; });
      to.replaceChildren();
      mine.forEach(function (p) { to.appendChild(h("option", {value: p.number}, p.number + (p.friendly_name ? " (" + p.friendly_name + ")" : ""))); });
      var none = mine.length === 0;
      to.disabled = none;
      document.getElementById("test-run").disabled = none || !boot.flow.live_version;
      document.getElementById("test-hint").textContent = !boot.flow.live_version ? "Publish the flow, then assign an ExoPhone to test it." :
        none ? "Assign an ExoPhone to this flow to test it." : "The test call runs the published version " + boot.flow.live_version + ".";
    }
  }

  function assign(number) {
    var phone = boot.exophones.filter(function (p) { return p.number === number; })[0];
    var target = phone.flow_id === flowID ? null : flowID;
    var status = document.getElementById("exophone-status");
    status.textContent = "Saving\u2026";
    request("PUT", boot.api + "exophones/" + encodeURIComponent(number), {flow_id: target}).then(function (r) {
      if (r.status !== 200) {
        status.textContent = number + ": " + apiError(r);
        return;
      }
      phone.flow_id = target || "";
      status.textContent = target ? number + " now runs this flow." : number + " no longer runs this flow.";
      renderPhones();
    }).catch(function (err) { status.textContent = err.message; });
  }

  // ---- test calls ----

  function runTest(ev) {
    ev.preventDefault();
    var out = document.getElementById("test-result");
    var btn = document.getElementById("test-run");
    btn.disabled = true;
    path = [];
    render();
    out.textContent = "Calling\u2026";
    root.removeAttribute("data-tested");
    request("POST", boot.tests, {to: document.getElementById("test-to").value,
      from: document.getElementById("test-from").value, digits: document.getElementById("test-digits").value}).then(function (r) {
      if (r.status !== 202) {
        out.textContent = r.data.error || "The test call was refused (" + r.status + ").";
        btn.disabled = false;
        return;
      }
      poll(r.data.id, out, btn);
    }).catch(function (err) {
      out.textContent = err.message;
      btn.disabled = false;
    });
  }

  function poll(id, out, btn) {
    request("GET", boot.tests + "/" + id).then(function (r) {
      var t = r.data;
      if (r.status !== 200) {
        out.textContent = t.error || "The test call was lost.";
        btn.disabled = false;
        return;
      }
      if (t.state === "running" || t.state === "finishing") {
        out.textContent = t.state === "running" ? "The call is up: " + t.from + " \u2192 " + t.to + "\u2026" : "The call ended; reading its record\u2026";
        setTimeout(function () { poll(id, out, btn); }, 500);
        return;
      }
      btn.disabled = false;
      showTest(t, out);
    }).catch(function (err) {
      out.textContent = err.message;
      btn.disabled = false;
    });
  }

  function showTest(t, out) {
    out.replaceChildren();
    if (t.state === "failed") {
      out.appendChild(h("p", {"class": "alert"}, t.error));
      return;
    }
    path = (t.path || []).filter(function (s) { return s.flow === flowID && doc.applets[s.applet]; }).map(function (s) { return s.applet; });
    render();
    var p = h("p", {});
    p.appendChild(document.createTextNode("Call "));
    p.appendChild(h("a", {href: t.call_url, "class": "mono"}, t.call_sid));
    p.appendChild(document.createTextNode(" " + (t.status || "ended") + (t.cause ? " (" + t.cause + ")" : "") + "."));
    out.appendChild(p);
    if (path.length) {
      var ol = h("ol", {"class": "test-path", "aria-label": "The applets the call went through"});
      path.forEach(function (id) { ol.appendChild(h("li", {}, label(id) + " \u2013 " + typeLabel(doc.applets[id].type))); });
      out.appendChild(ol);
    } else {
      out.appendChild(h("p", {"class": "muted"}, "The call's record has no applet path yet."));
    }
    root.setAttribute("data-tested", t.call_sid);
  }

  // ---- start ----

  var palette = document.getElementById("palette");
  boot.schemas.forEach(function (s) {
    var b = h("button", {type: "button", "class": "palette-item", "data-type": s.type, title: s.description});
    b.appendChild(h("span", {"class": "palette-swatch type-" + s.type, "aria-hidden": "true"}));
    b.appendChild(document.createTextNode(s.label));
    b.addEventListener("click", function () { addApplet(s.type); });
    palette.appendChild(b);
  });
  if (boot.flows && boot.flows.length) {
    var list = h("datalist", {id: "flow-ids"});
    boot.flows.forEach(function (f) { list.appendChild(h("option", {value: f.id}, f.name)); });
    root.appendChild(list);
  }
  nameInput.addEventListener("input", function () {
    dirty = true;
    setState("Unsaved changes.");
  });
  document.getElementById("save").addEventListener("click", save);
  document.getElementById("publish").addEventListener("click", publish);
  Array.prototype.forEach.call(document.querySelectorAll("#exophones tbody tr"), function (tr) {
    tr.querySelector("button").addEventListener("click", function () { assign(tr.getAttribute("data-number")); });
  });
  var testForm = document.getElementById("test-form");
  if (testForm) {
    testForm.addEventListener("submit", runTest);
  }
  window.addEventListener("beforeunload", function (ev) {
    if (dirty) {
      ev.preventDefault();
      ev.returnValue = "";
    }
  });
  renderPhones();
  render();
  renderInspector();
  setState(boot.flow.live_version ? "Version " + boot.flow.live_version + " is live." : "Not published yet.");
  validate();
  root.setAttribute("data-ready", "true");
})();
