// USWDS's header opens and closes the phone menu but does not tell screen readers: mirror the
// menu's visibility on its button as aria-expanded.
(function () {
  "use strict";
  var nav = document.querySelector(".usa-nav");
  var button = document.querySelector(".usa-menu-btn");
  if (!nav || !button) return;
  function sync() {
    button.setAttribute("aria-expanded", nav.classList.contains("is-visible") ? "true" : "false");
  }
  new MutationObserver(sync).observe(nav, { attributes: true, attributeFilter: ["class"] });
  sync();
})();
