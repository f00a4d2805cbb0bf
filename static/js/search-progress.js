// Polls the result panel of a running search and swaps it in, until the search has finished.
(function () {
  "use strict";
  var holder = document.getElementById("search-panel");
  if (!holder) { return; }
  var url = holder.getAttribute("data-panel-url");
  var delay = 800;

  function finished() {
    var panel = holder.querySelector(".panel");
    return panel && panel.getAttribute("data-finished") === "true";
  }

  function poll() {
    if (finished()) { return; }
    fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        // Keep the probe photo already shown: fetching it again on every poll would load it
        // (and record it in the audit trail) once a second.
        var kept = holder.querySelector("img[data-keep]");
        holder.innerHTML = html;
        var fresh = holder.querySelector("img[data-keep]");
        if (kept && fresh && kept.getAttribute("src") === fresh.getAttribute("src")) {
          fresh.parentNode.replaceChild(kept, fresh);
        }
        delay = 800;
      })
      .catch(function () {
        delay = Math.min(delay * 2, 10000);  // the server is busy or away: back off, keep trying
      })
      .then(function () { if (!finished()) { window.setTimeout(poll, delay); } });
  }
  window.setTimeout(poll, delay);
})();
