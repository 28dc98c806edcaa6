// The office screen reloads itself when the board cannot be refreshed (a revoked link, a
// restart): a script file, since the page's CSP allows no inline handlers.
document.addEventListener("htmx:responseError", function () {
  window.location.reload();
});
