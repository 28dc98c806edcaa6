// Our pages inside a Bitrix24 frame talk to the portal page through its BX24 JS API; this
// file is the only place that knows it. app.js calls window.crmHost.{init, fit, openCard}.
(function () {
  // The frame takes the content's own height, up and down: fitWindow alone can only grow
  // it (https://dev.1c-bitrix.ru/rest_help/js_library/additional/fitWindow.php), so the
  // body is measured and the frame set to that with resizeWindow.
  function contentHeight() {
    return Math.ceil(document.body.getBoundingClientRect().bottom + window.scrollY);
  }
  var fitted = 0;
  window.crmHost = {
    init: function (ready) {
      if (window.BX24 && BX24.init) BX24.init(ready);
    },
    fit: function () {
      if (!window.BX24) return;
      if (BX24.resizeWindow) {
        var height = contentHeight();
        if (height === fitted) return;
        fitted = height;
        BX24.resizeWindow(document.documentElement.clientWidth, height);
      } else if (BX24.fitWindow) {
        BX24.fitWindow();
      }
    },
    // True when the CRM opened the card itself (in its slider).
    openCard: function (path) {
      if (!(window.BX24 && BX24.openPath)) return false;
      BX24.openPath(path);
      return true;
    },
  };
})();
