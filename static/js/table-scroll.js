// On a phone a wide table scrolls inside its own box (casebound.css). A keyboard user can scroll
// it only if it takes the focus, so a table that overflows now gets tabindex="0" (and loses it
// again when the window grows); tables that fit add no stop to the Tab order.
(function () {
  "use strict";
  function mark() {
    document.querySelectorAll("table.usa-table").forEach(function (table) {
      var scrolls = table.scrollWidth > table.clientWidth + 1;
      if (scrolls && !table.hasAttribute("tabindex")) {
        table.setAttribute("tabindex", "0");
        table.dataset.scrollFocus = "on";
      } else if (!scrolls && table.dataset.scrollFocus) {
        table.removeAttribute("tabindex");
        delete table.dataset.scrollFocus;
      }
    });
  }
  mark();
  // Widths change after the script runs too (web fonts, images, a resized window or viewport).
  window.addEventListener("load", mark);
  window.addEventListener("resize", mark);
  if ("ResizeObserver" in window) {
    new ResizeObserver(mark).observe(document.body);
  }
})();
