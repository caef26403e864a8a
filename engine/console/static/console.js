// Passerelle console: live progress of a launched sync (G5). Everything works without this script too:
// the launch form then posts normally and the profile page lists the job and its run.
"use strict";
(function () {
  const box = document.querySelector("[data-stream]");
  if (!box) return;
  const profile = box.dataset.profile;
  const bar = document.getElementById("progress");
  const text = document.getElementById("progress-text");
  const label = document.getElementById("progress-label");
  const done = document.getElementById("progress-done");
  const holder = document.getElementById("progress-box");
  let events = 0;
  let finished = false;

  function show(doneCount, total) {
    if (!total) return;
    bar.max = total;
    bar.value = doneCount;
    const pct = Math.floor((100 * doneCount) / total);
    text.textContent = doneCount + " / " + total + " document(s) — " + pct + " %";
  }

  const stream = new EventSource(box.dataset.stream);
  stream.onopen = function () { box.dataset.sse = "open"; };
  stream.addEventListener("progress", function (message) {
    const data = JSON.parse(message.data);
    if (data.profile !== profile || finished) return;
    events += 1;
    box.dataset.events = String(events);
    holder.hidden = false;
    show(data.done, data.total);
    if (data.label) label.textContent = "Last written: " + data.label;
  });

  function poll(url) {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        const job = data.job;
        const state = job ? job.state : "queued";
        if (state === "done" || state === "failed") {
          finished = true;
          const run = data.last_run;
          if (run && run.progress && run.progress.total) show(run.progress.done, run.progress.total);
          else if (state === "done") { bar.max = 1; bar.value = 1; text.textContent = "Nothing to write — 100 %"; }
          let end = state === "done" ? "Finished." : "Failed: " + (job.error || "see the jobs");
          if (data.open_errors) end += " " + data.open_errors + " open error(s): see the error history.";
          label.textContent = end;
          box.dataset.state = state;
          done.hidden = false;
          stream.close();
          return;
        }
        if (events === 0) text.textContent = state === "running" ? "Running…" : "Queued…";
        setTimeout(function () { poll(url); }, 700);
      })
      .catch(function () { setTimeout(function () { poll(url); }, 1500); });
  }

  const form = box.querySelector("form[data-async]");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    holder.hidden = false;
    fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin",
                         headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (body) { return [r.status, body]; }); })
      .then(function (pair) {
        if (pair[0] !== 202) { text.textContent = "Not launched: " + (pair[1].error || pair[0]); button.disabled = false; return; }
        box.dataset.job = String(pair[1].job);
        poll(pair[1].progress);
      })
      .catch(function () { text.textContent = "Not launched: the service did not answer."; button.disabled = false; });
  });
})();
