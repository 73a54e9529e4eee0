// The instructor's submission view: the source highlighted by the vendored CodeMirror, read-only.
(function () {
  var area = document.getElementById("source-view");
  if (area && window.CodeMirror) {
    CodeMirror.fromTextArea(area, { mode: "python", lineNumbers: true, readOnly: true, viewportMargin: Infinity });
  }
})();
