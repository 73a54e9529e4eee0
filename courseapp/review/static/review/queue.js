// Keyboard-driven review queue: j/k select a group, 1/2/3 pick the band, s/c edit score/comment,
// x ticks or unticks every answer but the first (to grade one answer alone), Enter grades.
(function () {
  "use strict";
  const groups = Array.from(document.querySelectorAll(".review-group"));
  if (!groups.length) return;
  let current = 0;
  function select(i) {
    groups[current].classList.remove("selected");
    current = Math.max(0, Math.min(groups.length - 1, i));
    groups[current].classList.add("selected");
    groups[current].scrollIntoView({ block: "nearest" });
  }
  groups.forEach((g, i) => g.addEventListener("click", () => select(i)));
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const typing = target instanceof HTMLInputElement && (target.type === "text" || target.type === "number");
    const form = groups[current];
    if (typing) {
      if (event.key === "Escape") target.blur();
      return; // Enter in a field submits its form natively
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const bands = form.querySelectorAll("input[name=band]");
    switch (event.key) {
      case "j": case "ArrowDown": select(current + 1); break;
      case "k": case "ArrowUp": select(current - 1); break;
      case "1": case "2": case "3": bands[Number(event.key) - 1].checked = true; break;
      case "s": form.querySelector("input[name=score]").focus(); break;
      case "c": form.querySelector("input[name=comment]").focus(); break;
      case "x": {
        const boxes = Array.from(form.querySelectorAll("input[name=submission]")).slice(1);
        const tick = !boxes.every((b) => b.checked);
        boxes.forEach((b) => { b.checked = tick; });
        break;
      }
      case "Enter": form.requestSubmit(); break;
      default: return;
    }
    event.preventDefault();
  });
  document.body.dataset.reviewKeys = "on"; // the keys work from now on (tests wait for it)
})();

// While a recalibration is pending, reload the threshold and calibration history (a server-rendered
// fragment) every few seconds until it is done.
(function () {
  "use strict";
  const box = document.getElementById("calibration");
  if (!box || !box.dataset.pending) return;
  let delay = 2000;
  function poll() {
    fetch(box.dataset.url, { credentials: "same-origin", cache: "no-store", headers: { "X-Requested-With": "fetch" } })
      .then((r) => { if (!r.ok) throw new Error("HTTP " + r.status); return r.text(); })
      .then((html) => {
        const holder = document.createElement("div");
        holder.innerHTML = html; // rendered and escaped by Django's templates
        const fresh = holder.querySelector("#calibration");
        if (!fresh) throw new Error("no fragment");
        box.innerHTML = fresh.innerHTML;
        if (fresh.dataset.pending) window.setTimeout(poll, delay);
        else delete box.dataset.pending;
      })
      .catch(() => { delay = Math.min(30000, delay * 2); window.setTimeout(poll, delay); });
  }
  window.setTimeout(poll, delay);
})();
