// Exercise page: CodeMirror for code exercises, and a live grading status without reloading.
(function () {
  "use strict";

  var textarea = document.getElementById("id_source");
  if (textarea && textarea.classList.contains("code") && window.CodeMirror) {
    var editor = window.CodeMirror.fromTextArea(textarea, {
      mode: "python",
      lineNumbers: true,
      indentUnit: 4,
      tabSize: 4,
      indentWithTabs: false,
      viewportMargin: Infinity,
      extraKeys: {
        Tab: function (cm) {
          if (cm.somethingSelected()) { cm.indentSelection("add"); }
          else { cm.replaceSelection("    ", "end"); }
        }
      }
    });
    window.courseEditor = editor;
    var form = document.getElementById("submit-form");
    if (form) { form.addEventListener("submit", function () { editor.save(); }); }
  }

  // A double-click submits once: the button disables itself on the first submit (the server also
  // drops a second send of the same form by its submit_token). Re-enabled when the page comes
  // back from the browser's back/forward cache.
  var submitForm = document.getElementById("submit-form");
  var submitButton = document.getElementById("submit-button");
  if (submitForm && submitButton) {
    submitForm.addEventListener("submit", function (event) {
      if (submitButton.disabled) { event.preventDefault(); return; }
      submitButton.disabled = true;
      submitButton.textContent = "Submitting…";
    });
    window.addEventListener("pageshow", function () {
      submitButton.disabled = false;
      submitButton.textContent = "Submit";
    });
  }

  var box = document.getElementById("feedback");
  if (!box) { return; }
  var FINAL = { graded: true, failed: true };
  if (FINAL[box.dataset.state]) { return; }

  // The server paces the polls: soon while a grade may come any moment, a quarter of the expected
  // wait (up to 10 s) while the submission waits behind many (poll_after_ms; the page's first wait
  // is data-poll-after).
  var pollAfter = parseInt(box.dataset.pollAfter, 10) || 500;
  var delay = pollAfter, maxDelay = 5000, lastState = box.dataset.state;

  function showQueue(data) {
    var text = document.getElementById("queue-text");
    if (!text) { return; }
    if (data.state !== "queued" || !data.queue_ahead) { text.textContent = ""; return; }
    var s = data.queue_ahead + " submission" + (data.queue_ahead === 1 ? "" : "s") + " ahead of yours";
    if (data.eta_s !== null && data.eta_s !== undefined) { s += "; feedback in about " + Math.round(data.eta_s) + " s"; }
    text.textContent = s + ".";
  }

  function setState(state) {
    var badge = document.getElementById("job-state");
    if (badge) { badge.textContent = state; badge.className = "badge " + state; }
    var text = document.getElementById("state-text");
    if (text) {
      text.textContent = {
        queued: "Waiting for a grader…",
        running: "Grading your submission…",
        delayed: "Grading is delayed (the grader had a problem; it will try again)."
      }[state] || text.textContent;
    }
    box.dataset.state = state;
    var row = document.querySelector('ol.submissions li[data-submission="' + box.dataset.submission + '"]');
    var rowBadge = row && row.querySelector(".badge");
    if (rowBadge) { rowBadge.textContent = state; rowBadge.className = "badge " + state; }
  }

  function showScoreInHistory(data) {
    var row = document.querySelector('ol.submissions li[data-submission="' + box.dataset.submission + '"]');
    if (!row || data.score === null || row.querySelector(".score")) { return; }
    var span = document.createElement("span");
    span.className = "score";
    span.textContent = fmt(data.score) + " / " + fmt(data.max_score);
    row.appendChild(span);
  }

  // The same as Django's floatformat:"-2": whole numbers plain, others with two decimals.
  function fmt(x) { return Number.isInteger(x) ? String(x) : x.toFixed(2); }

  function loadFeedback(url) {
    return fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.text(); })
      .then(function (html) { box.innerHTML = html; });  // server-rendered, escaped by Django templates
  }

  // Conditional polling: the server answers 304 (one light query) while nothing changed; each
  // unchanged answer backs off (x1.5, up to maxDelay), errors back off harder, a change resets.
  var etag = null;
  var NOT_MODIFIED = {};

  function poll() {
    var headers = { "Accept": "application/json" };
    if (etag) { headers["If-None-Match"] = etag; }
    fetch(box.dataset.statusUrl, { credentials: "same-origin", cache: "no-store", headers: headers })
      .then(function (r) {
        if (r.status === 304) { return NOT_MODIFIED; }
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        etag = r.headers.get("ETag") || null;
        return r.json();
      })
      .then(function (data) {
        if (data === NOT_MODIFIED) {
          delay = Math.min(Math.max(maxDelay, pollAfter), Math.round(delay * 1.5));
          window.setTimeout(poll, delay);
          return;
        }
        if (data.finished) {
          setState(data.state);
          showScoreInHistory(data);
          return loadFeedback(data.feedback_url);
        }
        var progress = document.getElementById("progress-text");
        if (progress && typeof data.progress === "string") { progress.textContent = data.progress; }
        showQueue(data);
        pollAfter = data.poll_after_ms || 500;
        if (data.progress) { delay = Math.min(delay, 1000); }  // a long grade is reporting: keep up
        if (data.state !== lastState) { lastState = data.state; delay = pollAfter; setState(data.state); }
        else { delay = Math.max(pollAfter, Math.min(maxDelay, Math.round(delay * 1.5))); }
        window.setTimeout(poll, delay);
      })
      .catch(function () {
        delay = Math.min(4 * maxDelay, delay * 2);
        window.setTimeout(poll, delay);
      });
  }
  window.setTimeout(poll, delay);
})();
