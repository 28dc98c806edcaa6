// Our pages inside the frame amoCRM's widget puts in the account's page. The widget
// (integrations/amocrm/widget/script.js) listens for these messages; this file is the only
// place that knows them. app.js calls window.crmHost.{init, fit, openCard}.
(function () {
  function post(message) {
    if (window.parent !== window) window.parent.postMessage(message, "*");
  }
  var fitted = 0;
  window.crmHost = {
    init: function (ready) { if (ready) ready(); },
    // The widget sizes its iframe to the page, which amoCRM cannot do for us.
    fit: function () {
      var height = Math.ceil(document.body.getBoundingClientRect().bottom + window.scrollY);
      if (height === fitted) return;
      fitted = height;
      post({ salesReports: "resize", height: height });
    },
    // A card is amoCRM's own page: app.js opens the link in the top window (false here).
    openCard: function () { return false; },
  };
})();
