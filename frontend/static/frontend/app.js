// The app inside the CRM iframe: the session token travels in a header (no third-party
// cookies), the frame fits its content, and CRM cards open in the CRM, never in our frame.
(function () {
  var meta = document.querySelector('meta[name="app-session"]');
  var token = meta ? meta.content : "";

  document.body.addEventListener("htmx:configRequest", function (event) {
    if (token) event.detail.headers["X-App-Session"] = token;
  });
  document.body.addEventListener("htmx:afterRequest", function (event) {
    var renewed = event.detail.xhr && event.detail.xhr.getResponseHeader("X-App-Session");
    if (renewed) token = renewed;
  });

  // Fitting the frame and opening cards is the CRM page's business: its host script
  // (loaded before this file) defines window.crmHost; outside a CRM there is none.
  var host = window.crmHost || { init: function () {}, fit: function () {}, openCard: function () { return false; } };
  var fit = host.fit;
  if (window.ResizeObserver) new ResizeObserver(fit).observe(document.body);

  // Numbers on charts as on the page: 100 000 000 in Russian, 100,000,000 in English.
  var locale = document.documentElement.lang || "ru";

  // Charts are described by the server (data-chart JSON) and drawn after every swap.
  function charts() {
    if (!window.Chart) return;
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.chart) return;
      var spec = JSON.parse(canvas.dataset.chart);
      if (spec.kind === "doughnut") {
        canvas.chart = new Chart(canvas, {
          type: "doughnut",
          data: { labels: spec.labels, datasets: [{ data: spec.values, backgroundColor: spec.colors }] },
          // Beside the ring a long legend is cut off; below it, it wraps.
          options: { maintainAspectRatio: false, plugins: { legend: { position: spec.labels.length > 6 ? "bottom" : "right" } } }
        });
        return;
      }
      // One series ({label, values}) or several ({datasets: [{label, values, type, axis}]}).
      var series = spec.datasets || [{ label: spec.label, values: spec.values }];
      var colors = ["#2fc6f6", "#9dcf00", "#ff5752", "#ffa900", "#7a5af8", "#00b8a9", "#f7559e",
        "#3d8bfd", "#a0a8b1", "#6c4f3d", "#1f2d3d"];
      var scales = {};
      var datasets = series.map(function (one, index) {
        var color = colors[index % colors.length];
        var axis = one.axis || "y";
        scales[axis] = { position: axis === "y" ? "left" : "right", beginAtZero: true,
          stacked: !!spec.stacked,
          grid: { drawOnChartArea: axis === "y" },
          ticks: { callback: function (value) { return value.toLocaleString(locale); } } };
        return { label: one.label, data: one.values, type: one.type || "line", yAxisID: axis,
          borderColor: color, backgroundColor: one.type === "bar" ? color + "99" : color + "26",
          fill: one.type !== "bar" && series.length === 1, tension: .25 };
      });
      // Stacked bars (the received leads' states by source) stack on both axes.
      if (spec.stacked) scales.x = { stacked: true };
      canvas.chart = new Chart(canvas, {
        type: "line",
        data: { labels: spec.labels, datasets: datasets },
        options: { maintainAspectRatio: false, interaction: { mode: "index", intersect: false },
          scales: scales,
          plugins: { tooltip: { callbacks: { label: function (item) {
            return item.dataset.label + ": " + (item.raw === null ? "—" : item.raw.toLocaleString(locale));
          } } } } }
      });
    });
  }
  document.body.addEventListener("htmx:afterSettle", function () { charts(); fit(); });
  window.addEventListener("load", function () { charts(); fit(); });

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-crm-path]");
    if (!link) return;
    event.preventDefault();
    if (!host.openCard(link.dataset.crmPath)) window.top.location.href = link.href;
  });

  // A refused change answers 4xx: a form re-rendered with its errors (HTML) or a plan cell
  // is swapped in place; a sentence (plain text) is shown where the user acted.
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status < 400) return;
    var elt = event.detail.requestConfig.elt;
    var html = (xhr.getResponseHeader("Content-Type") || "").indexOf("text/html") === 0;
    if (xhr.status === 400 && (html || elt.closest(".plan-cell"))) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
      return;
    }
    var box = refusalBox(elt, true);
    box.textContent = xhr.responseText || xhr.statusText;
    box.hidden = false;
  });
  document.body.addEventListener("htmx:afterRequest", function (event) {
    var box = event.detail.elt.closest && refusalBox(event.detail.elt, false);
    if (box && event.detail.successful) box.hidden = true;
  });
  // Where a refusal is said: the element the section names (data-errors), else a line
  // right after the form (or control) the user acted on, made the first time it is needed.
  function refusalBox(elt, create) {
    var section = elt.closest("[data-errors]");
    var named = section && document.querySelector(section.dataset.errors);
    if (named) return named;
    var anchor = elt.closest("form") || elt;
    var next = anchor.nextElementSibling;
    if (next && next.classList.contains("refusal-line")) return next;
    if (!create) return null;
    var box = document.createElement("p");
    box.className = "error refusal-line";
    box.setAttribute("role", "alert");
    anchor.insertAdjacentElement("afterend", box);
    return box;
  }

  // The plan grid: Enter moves down a column, as in a spreadsheet (leaving a cell saves it).
  document.addEventListener("keydown", function (event) {
    var input = event.target.closest && event.target.closest(".plan-input");
    if (!input || event.key !== "Enter") return;
    event.preventDefault();
    var cell = input.closest("td");
    var column = Array.prototype.indexOf.call(cell.parentElement.children, cell);
    var row = cell.parentElement.nextElementSibling;
    while (row) {
      var next = row.children[column] && row.children[column].querySelector(".plan-input");
      if (next) {
        next.focus();
        next.select();
        return;
      }
      row = row.nextElementSibling;
    }
    input.blur();
  });

  // Plan vs fact: departments open to their employees, employees to their pipelines.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-expands]");
    if (!button) return;
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    document.querySelectorAll("tr[data-parent='" + button.dataset.expands + "']").forEach(function (row) {
      row.hidden = !open;
      if (!open) {
        var inner = row.querySelector("button[data-expands][aria-expanded=true]");
        if (inner) inner.click();
      }
    });
    fit();
  });

  // Drill-down lists open where the eye is: a panel over the report just below the number
  // that was clicked (the frame is as tall as the page, so "fixed" would mean its top), with
  // its address in the location's hash so a reload or a shared link opens it again.
  var drillAnchor = 0;
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "drill") return;
    drillAnchor = event.detail.elt.getBoundingClientRect().bottom + window.scrollY;
  });
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var panel = event.detail.target;
    if (!panel || panel.id !== "drill" || !panel.firstElementChild) return;
    var top = Math.max(0, drillAnchor + 6);
    panel.style.top = top + "px";
    document.body.style.minHeight = top + panel.offsetHeight + 16 + "px";
    var info = event.detail.pathInfo || {};
    var path = info.finalRequestPath || info.requestPath;
    if (path) history.replaceState(history.state, "", "#drill=" + encodeURIComponent(path));
    var close = panel.querySelector("[data-drill-close]");
    if (close) close.focus({ preventScroll: true });
  });
  function drillClose() {
    var panel = document.getElementById("drill");
    if (!panel || !panel.firstElementChild) return;
    panel.innerHTML = "";
    document.body.style.minHeight = "";
    history.replaceState(history.state, "", location.pathname + location.search);
  }
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-drill-close]")) drillClose();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") drillClose();
  });
  window.addEventListener("load", function () {
    var match = location.hash.match(/^#drill=(.+)$/);
    if (match && window.htmx && document.getElementById("drill")) {
      htmx.ajax("GET", decodeURIComponent(match[1]), { target: "#drill", swap: "innerHTML" });
    }
  });

  // The source menu stays open while sources are ticked one after another: each tick
  // rebuilds the report, and with it the menu.
  var pickOpen = false;
  document.body.addEventListener("htmx:beforeSwap", function () {
    var menu = document.querySelector("details.pick-menu");
    pickOpen = !!(menu && menu.open);
  });
  document.body.addEventListener("htmx:afterSwap", function () {
    var menu = document.querySelector("details.pick-menu");
    if (menu && pickOpen) menu.open = true;
  });
  document.addEventListener("click", function (event) {
    var menu = document.querySelector("details.pick-menu[open]");
    if (menu && !menu.contains(event.target)) menu.open = false;
  });

  host.init(fit);
})();
