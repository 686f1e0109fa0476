// app.js is the wacht console's first-party script: sign-in, the CSRF
// header on every write, keyboard navigation, themes, local times and the
// uPlot charts. It runs under a strict Content-Security-Policy: no inline
// script, no eval; charts read their data from data- attributes.
(function () {
  "use strict";
  var prefix = "/console/";
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.content : "";

  // --- themes -------------------------------------------------------------
  function applyTheme(t) {
    if (t === "dark" || t === "light") document.documentElement.dataset.theme = t;
    else delete document.documentElement.dataset.theme;
  }
  function toggleTheme() {
    var cur = document.documentElement.dataset.theme ||
      (window.matchMedia && matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
    var next = cur === "dark" ? "light" : "dark";
    try { localStorage.setItem("wacht-theme", next); } catch (e) {}
    applyTheme(next);
    redrawCharts();
  }
  try { applyTheme(localStorage.getItem("wacht-theme")); } catch (e) {}

  // --- times in the reader's zone, UTC on hover -----------------------------
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      if (el.dataset.local) return;
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) return;
      el.textContent = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
        pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
      el.dataset.local = "1";
    });
  }

  // --- charts ---------------------------------------------------------------
  var charts = [];
  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
  function drawChart(el) {
    if (!window.uPlot || el.dataset.drawn) return;
    var data;
    try { data = JSON.parse(el.dataset.series); } catch (e) { return; }
    if (!data || !data.x || data.x.length === 0) return;
    el.dataset.drawn = "1";
    var bars = el.dataset.chart === "bars";
    var stroke = cssVar("--accent") || "#3b82f6";
    // Several series: {x, ys: [[…], […]], labels: […]}, one colour each.
    var ys = data.ys || [data.y];
    var colours = [stroke, cssVar("--high") || "#c2410c", cssVar("--ok") || "#15803d"];
    var series = [{}];
    ys.forEach(function (_, i) {
      series.push({
        label: (data.labels && data.labels[i]) || el.dataset.label || "",
        stroke: colours[i % colours.length],
        fill: ys.length > 1 ? undefined : stroke + "55",
        width: bars ? 0 : 2,
        paths: bars && uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.9, 60] }) : undefined,
        points: { show: ys.length > 1 },
      });
    });
    var opts = {
      width: Math.max(200, el.getBoundingClientRect().width || 600),
      height: bars ? 140 : 110,
      legend: { show: ys.length > 1 },
      cursor: { drag: { x: bars, y: false } },
      scales: { x: { time: true, range: function (u, min, max) {
        if (data.from != null && data.to != null) return [data.from, data.to];
        if (min === max) return [min - 300, max + 60];
        return [min, max];
      } } },
      axes: [
        { stroke: cssVar("--muted"), grid: { stroke: cssVar("--grid") }, ticks: { stroke: cssVar("--grid") } },
        { stroke: cssVar("--muted"), grid: { stroke: cssVar("--grid") }, ticks: { stroke: cssVar("--grid") }, size: 50 },
      ],
      series: series,
    };
    el.textContent = "";
    var plot = new uPlot(opts, [data.x].concat(ys), el);
    el.setAttribute("role", "img");
    el.setAttribute("aria-label", (el.dataset.label || "chart") + " over time, " + data.x.length + " points");
    charts.push({ el: el, plot: plot });
  }
  function drawCharts(root) {
    charts = charts.filter(function (c) { return c.el.isConnected; });
    root.querySelectorAll("[data-chart]").forEach(drawChart);
  }
  function redrawCharts() {
    charts.forEach(function (c) { c.plot.destroy(); delete c.el.dataset.drawn; });
    charts = [];
    drawCharts(document);
  }
  window.addEventListener("resize", function () {
    charts.forEach(function (c) {
      if (c.el.isConnected) c.plot.setSize({ width: c.el.getBoundingClientRect().width, height: c.plot.height });
    });
  });

  // --- hunt history ---------------------------------------------------------
  function history() { try { return JSON.parse(localStorage.getItem("wacht-hunt-history") || "[]"); } catch (e) { return []; } }
  function remember(q) {
    if (!q) return;
    var h = history().filter(function (x) { return x !== q; });
    h.unshift(q);
    try { localStorage.setItem("wacht-hunt-history", JSON.stringify(h.slice(0, 30))); } catch (e) {}
    fillHistory();
  }
  function fillHistory() {
    var dl = document.getElementById("hunt-history");
    if (!dl) return;
    dl.textContent = "";
    history().forEach(function (q) { var o = document.createElement("option"); o.value = q; dl.appendChild(o); });
  }

  // --- everything that needs doing for new content --------------------------
  function enhance(root) {
    localTimes(root);
    drawCharts(root);
  }

  // --- keyboard ---------------------------------------------------------------
  var cursor = -1, gPending = false;
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr.nav-row")); }
  function move(d) {
    var rs = rows();
    if (!rs.length) return;
    if (cursor >= 0 && rs[cursor]) rs[cursor].classList.remove("cursor");
    cursor = Math.max(0, Math.min(rs.length - 1, cursor + d));
    rs[cursor].classList.add("cursor");
    rs[cursor].scrollIntoView({ block: "nearest" });
  }
  function current() { var rs = rows(); return cursor >= 0 ? rs[cursor] : null; }
  function triage(action) {
    var form = document.getElementById("triage");
    if (!form) return;
    if (!form.querySelector('input[name="id"]:checked')) {
      var r = current();
      var box = r && r.querySelector('input[name="id"]');
      if (!box) return;
      box.checked = true;
    }
    var btn = form.querySelector('button[value="' + action + '"]');
    if (btn) btn.click();
  }
  function showHelp(show) {
    var o = document.getElementById("shortcuts");
    if (o) o.hidden = !show;
  }
  document.addEventListener("keydown", function (ev) {
    var t = ev.target;
    var typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
    if (ev.key === "Escape") { showHelp(false); if (typing) t.blur(); return; }
    if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (gPending) {
      gPending = false;
      var dest = { o: "overview", a: "alerts", i: "incidents", h: "hunt", r: "rules", c: "attack", n: "intel",
        p: "playbooks", v: "approvals", u: "audit", s: "settings" }[ev.key];
      if (dest) { location.href = prefix + dest; ev.preventDefault(); }
      return;
    }
    switch (ev.key) {
      case "g": gPending = true; setTimeout(function () { gPending = false; }, 1500); break;
      case "?": showHelp(document.getElementById("shortcuts").hidden); break;
      case "/": var s = document.querySelector("[data-search]"); if (s) { s.focus(); s.select(); ev.preventDefault(); } break;
      case "j": move(1); break;
      case "k": move(-1); break;
      case "x": var r = current(); var b = r && r.querySelector('input[type="checkbox"]'); if (b) b.checked = !b.checked; break;
      case "Enter": var c = current(); if (c && c.dataset.href) location.href = c.dataset.href; break;
      case "a": triage("ack"); break;
      case "e": triage("escalate"); break;
      case "t": toggleTheme(); break;
      default: return;
    }
  });

  // --- sign in and out -----------------------------------------------------------
  function signIn(form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var err = document.getElementById("login-error");
      var body = {};
      new FormData(form).forEach(function (v, k) { if (v !== "") body[k] = v; });
      fetch("/api/v1/auth/login", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      }).then(function (resp) {
        if (resp.ok) { location.href = form.dataset.next || prefix; return; }
        return resp.json().then(function (j) {
          err.textContent = (j && j.error) || ("sign-in failed (" + resp.status + ")");
          err.hidden = false;
        });
      }).catch(function () { err.textContent = "cannot reach the server"; err.hidden = false; });
    });
  }
  function signOut() {
    fetch("/api/v1/auth/logout", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf } })
      .finally(function () { location.href = prefix + "login"; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var lf = document.getElementById("login-form");
    if (lf) signIn(lf);
    var lo = document.getElementById("logout");
    if (lo) lo.addEventListener("click", signOut);
    var tt = document.getElementById("theme-toggle");
    if (tt) tt.addEventListener("click", toggleTheme);
    var ht = document.getElementById("help-toggle");
    if (ht) ht.addEventListener("click", function () { showHelp(true); });
    var ov = document.getElementById("shortcuts");
    if (ov) ov.addEventListener("click", function (ev) { if (ev.target === ov) showHelp(false); });
    // A group's checkbox selects (or clears) every alert of the group,
    // for the bulk actions.
    document.addEventListener("change", function (ev) {
      var box = ev.target;
      if (!box.classList || !box.classList.contains("group-all")) return;
      var group = box.closest("details");
      if (group) group.querySelectorAll('input[name="id"]').forEach(function (c) { c.checked = box.checked; });
    });
    // Copy buttons: data-copy names the element whose text to copy.
    document.addEventListener("click", function (ev) {
      var btn = ev.target.closest && ev.target.closest("[data-copy]");
      if (!btn) return;
      var src = document.querySelector(btn.dataset.copy), st = document.getElementById("copy-status");
      if (!src) return;
      var say = function (m) { if (st) st.textContent = m; };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(src.textContent).then(function () { say("copied"); },
          function () { say("copy refused by the browser: select the text and press Ctrl+C"); });
      } else {
        var range = document.createRange(); range.selectNodeContents(src);
        var sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
        say("selected: press Ctrl+C to copy");
      }
    });
    document.querySelectorAll("tr[data-href]").forEach(function (r) {
      r.addEventListener("dblclick", function () { if (r.dataset.href) location.href = r.dataset.href; });
    });
    var hf = document.getElementById("hunt-form");
    if (hf) {
      fillHistory();
      hf.addEventListener("submit", function () { remember(hf.querySelector("[name=q]").value.trim()); });
      var q = hf.querySelector("[name=q]").value.trim();
      if (q) remember(q);
    }
    enhance(document);
  });

  if (window.htmx) {
    document.addEventListener("htmx:configRequest", function (ev) {
      if (csrf) ev.detail.headers["X-CSRF-Token"] = csrf;
    });
    document.addEventListener("htmx:afterSettle", function (ev) { cursor = -1; enhance(ev.target || document); });
    document.addEventListener("htmx:sseMessage", function (ev) { enhance(ev.target || document); });
    // A refused or failed action says so instead of doing nothing.
    document.addEventListener("htmx:responseError", function (ev) {
      var xhr = ev.detail.xhr, main = document.getElementById("main");
      if (!main || !xhr) return;
      var msg = xhr.status === 403 ? "Your role may not do this." :
        xhr.status === 401 ? "This needs you to sign in again (or prove a second factor)." :
        "The server could not do this (HTTP " + xhr.status + ").";
      var p = document.getElementById("action-error") || document.createElement("p");
      p.id = "action-error"; p.className = "notice error"; p.setAttribute("role", "alert"); p.textContent = msg;
      main.insertBefore(p, main.firstChild);
    });
  }
})();
