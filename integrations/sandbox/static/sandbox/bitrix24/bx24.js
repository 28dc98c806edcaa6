// The BX24 JS API as the sandbox CRM host page provides it: the calls our pages make,
// sent to the portal page (our parent frame) with postMessage, as the real library does.
(function () {
  function send(command, params) {
    window.parent.postMessage({ bx24: command, params: params || {} }, "*");
  }
  window.BX24 = {
    init: function (callback) { if (callback) setTimeout(callback, 0); },
    installFinish: function () { send("installFinish"); },
    // As in Bitrix24: fitWindow can only grow the frame, resizeWindow sets its size.
    fitWindow: function () {
      send("resize", { height: document.documentElement.scrollHeight, grow: true });
    },
    resizeWindow: function (width, height, callback) {
      send("resize", { width: width, height: height });
      if (callback) setTimeout(callback, 0);
    },
    openPath: function (path) { send("openPath", { path: path }); },
    getAuth: function () { return false; },
    placement: { info: function () { return { placement: "DEFAULT", options: {} }; } }
  };
})();
