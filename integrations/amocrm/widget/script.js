// The amoCRM widget: a page under Analytics that frames our reports. amoCRM gives the page a
// one-time token through $authorizedAjax; our server checks it and answers the address of
// the reports page for this user, which we put in an iframe. The frame asks us (postMessage)
// to fit its height; cards open in the top window from the frame itself.
define(["jquery"], function ($) {
  var BACKEND = "__BACKEND_URL__"; // written by `make widget` (PUBLIC_URL)

  return function () {
    var self = this;

    function area() {
      return document.getElementById("work-area-" + self.get_settings().widget_code);
    }

    function say(key) {
      var node = area();
      if (node) node.textContent = self.i18n("page")[key];
    }

    function frame(url) {
      var node = area();
      if (!node) return;
      var iframe = document.createElement("iframe");
      iframe.src = url;
      iframe.title = self.i18n("menu").sales_reports;
      iframe.style.cssText = "width:100%;min-height:600px;border:0;display:block";
      node.innerHTML = "";
      node.appendChild(iframe);
      window.addEventListener("message", function (event) {
        if (event.source !== iframe.contentWindow) return;
        if (event.origin !== new URL(BACKEND).origin) return;
        var message = event.data || {};
        if (message.salesReports === "resize") iframe.style.height = Math.max(600, message.height) + "px";
      });
    }

    this.callbacks = {
      init: function () { return true; },
      render: function () { return true; },
      bind_actions: function () { return true; },
      settings: function () { return true; },
      onSave: function () { return true; },
      destroy: function () {},
      initMenuPage: function () {
        say("loading");
        self.$authorizedAjax({ url: BACKEND + "/amocrm/app/session/", method: "POST" })
          .done(function (answer) { frame(answer.url); })
          .fail(function () { say("failed"); });
        return true;
      },
    };
    return this;
  };
});
