// Progressive enhancement of the draft editor: the preview follows the textarea as one
// types, by posting the form to the same Preview route the button uses (rendered on the
// server, raw HTML escaped there) and taking its preview. Without JavaScript the Preview
// button does the same with a page load.
(function () {
  "use strict";
  var form = document.querySelector("form.editor");
  var target = document.querySelector(".preview");
  var button = form && form.querySelector("button[formaction$='/preview']");
  if (!form || !target || !button || !window.fetch || !window.DOMParser) {
    return;
  }
  var timer = null;
  var latest = 0;
  function refresh() {
    var mine = ++latest;
    fetch(button.formAction, { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null || mine !== latest) {
          return;
        }
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector(".preview");
        if (fresh) {
          target.replaceChildren.apply(target, Array.prototype.slice.call(fresh.childNodes));
        }
      })
      .catch(function () { /* the Preview button still works */ });
  }
  form.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 400);
  });
})();
