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
      canvas.chart = new Chart(canvas, {
        type: "line",
        data: { labels: spec.labels, datasets: [{ label: spec.label, data: spec.values,
          borderColor: "#2fc6f6", backgroundColor: "rgba(47,198,246,.15)", fill: true, tension: .25 }] },
        options: { maintainAspectRatio: false, interaction: { mode: "index", intersect: false },
          plugins: { tooltip: { callbacks: { label: function (item) {
            return spec.label + ": " + (item.raw === null ? "—" : item.raw.toLocaleString());
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

  if (window.BX24 && BX24.init) BX24.init(fit);
})();
