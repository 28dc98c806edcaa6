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
  document.body.addEventListener("htmx:afterSettle", fit);

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
