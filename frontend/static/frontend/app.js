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

  function fit() {
    if (window.BX24 && BX24.fitWindow) BX24.fitWindow();
  }

  // Charts are described by the server (data-chart JSON) and drawn after every swap.
  function charts() {
    if (!window.Chart) return;
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.chart) return;
      var spec = JSON.parse(canvas.dataset.chart);
      // One series ({label, values}) or several ({datasets: [{label, values, type, axis}]}).
      var series = spec.datasets || [{ label: spec.label, values: spec.values }];
      var colors = ["#2fc6f6", "#9dcf00", "#ff5752"];
      var scales = {};
      var datasets = series.map(function (one, index) {
        var color = colors[index % colors.length];
        var axis = one.axis || "y";
        scales[axis] = { position: axis === "y" ? "left" : "right", beginAtZero: true,
          grid: { drawOnChartArea: axis === "y" } };
        return { label: one.label, data: one.values, type: one.type || "line", yAxisID: axis,
          borderColor: color, backgroundColor: one.type === "bar" ? color + "99" : color + "26",
          fill: one.type !== "bar" && series.length === 1, tension: .25 };
      });
      canvas.chart = new Chart(canvas, {
        type: "line",
        data: { labels: spec.labels, datasets: datasets },
        options: { maintainAspectRatio: false, interaction: { mode: "index", intersect: false },
          scales: scales,
          plugins: { tooltip: { callbacks: { label: function (item) {
            return item.dataset.label + ": " + (item.raw === null ? "—" : item.raw.toLocaleString());
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
    if (window.BX24 && BX24.openPath) {
      BX24.openPath(link.dataset.crmPath);
    } else {
      window.top.location.href = link.href;
    }
  });

  // A refused change answers 4xx with a sentence: a plan cell shows it in place, other
  // forms in the element their section names (data-errors).
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status < 400) return;
    var elt = event.detail.requestConfig.elt;
    if (xhr.status === 400 && elt.closest(".plan-cell")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
      return;
    }
    var section = elt.closest("[data-errors]");
    var box = section && document.querySelector(section.dataset.errors);
    if (box) {
      box.textContent = xhr.responseText;
      box.hidden = false;
    }
  });
  document.body.addEventListener("htmx:afterRequest", function (event) {
    var section = event.detail.elt.closest && event.detail.elt.closest("[data-errors]");
    var box = section && document.querySelector(section.dataset.errors);
    if (box && event.detail.successful) box.hidden = true;
  });

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

  if (window.BX24 && BX24.init) BX24.init(fit);
})();
