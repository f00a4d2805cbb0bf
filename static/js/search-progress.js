// Polls the result panel of a running search and swaps it in, until the search has finished.
(function () {
  "use strict";
  var holder = document.getElementById("search-panel");
  if (!holder) { return; }
  var url = holder.getAttribute("data-panel-url");
  var delay = 800;
  var announcer = document.getElementById("search-announce");
  var announced = "";

  // Says the step the search is in ("Step 2 of 5: Finding faces") when it changes, and once
  // finished the outcome too; on a phone USWDS hides the step labels, so this and the heading
  // are what tell where the search is.
  function announce() {
    var heading = holder.querySelector(".usa-step-indicator__heading");
    if (!announcer || !heading) { return; }
    var text = heading.textContent.replace(/\s+/g, " ").trim();
    var outcome = finished() && holder.querySelector(
      ".panel .summary, .panel [role=alert] h2, .panel [role=status] h2");
    if (outcome) { text += ". " + outcome.textContent.replace(/\s+/g, " ").trim(); }
    if (text !== announced) { announcer.textContent = text; announced = text; }
  }

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
        announce();
      })
      .catch(function () {
        delay = Math.min(delay * 2, 10000);  // the server is busy or away: back off, keep trying
      })
      .then(function () { if (!finished()) { window.setTimeout(poll, delay); } });
  }
  announce();
  window.setTimeout(poll, delay);
})();
