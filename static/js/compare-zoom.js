// The compare page's zoom: a face (a link to the image itself, which is the no-script way to see
// it large) becomes a toggle button that enlarges it to the page's width; Escape shrinks it again.
(function () {
  "use strict";
  var links = document.querySelectorAll("a.zoomable");
  function setZoom(link, on) {
    link.classList.toggle("is-zoomed", on);
    var figure = link.closest("figure");  // an enlarged face takes the whole row of the pair
    if (figure) figure.classList.toggle("is-zoomed", on);
    link.setAttribute("aria-pressed", on ? "true" : "false");
  }
  Array.prototype.forEach.call(links, function (link) {
    link.setAttribute("role", "button");
    link.setAttribute("aria-pressed", "false");
    link.setAttribute("title", "Enlarge or shrink");
    link.addEventListener("click", function (event) {
      event.preventDefault();
      setZoom(link, link.getAttribute("aria-pressed") !== "true");
    });
    link.addEventListener("keydown", function (event) {
      if (event.key === " ") { event.preventDefault(); setZoom(link, link.getAttribute("aria-pressed") !== "true"); }
      if (event.key === "Escape") { setZoom(link, false); }
    });
  });
})();
