// portolan serve: progressive enhancements only; every page works without.
"use strict";
(function () {
  // Catalog: filter the rows as one types (the server filters on submit).
  const q = document.querySelector("input[data-filter]");
  if (q) {
    const rows = Array.from(document.querySelectorAll(q.dataset.filter + " tbody tr[data-search]"));
    const count = document.getElementById("count");
    const filter = () => {
      const words = q.value.toLowerCase().split(/\s+/).filter(Boolean);
      let n = 0;
      for (const r of rows) {
        const hit = words.every((w) => r.dataset.search.includes(w));
        r.hidden = !hit;
        if (hit) n++;
      }
      if (count) count.textContent = n + " of " + rows.length + " services";
    };
    q.addEventListener("input", filter);
  }

  // Service: show only the chosen target's own flags.
  const target = document.getElementById("target");
  if (target) {
    const show = () => {
      for (const l of document.querySelectorAll(".tflag")) {
        l.hidden = l.dataset.target !== target.value;
      }
    };
    target.addEventListener("change", show);
    show();
  }

  // Probe run: poll its status until it ends.
  const run = document.getElementById("run");
  if (run && run.dataset.finished !== "true") {
    const bar = document.getElementById("bar");
    const text = document.getElementById("progress");
    const poll = async () => {
      let st;
      try {
        const res = await fetch(run.dataset.status, { cache: "no-store", credentials: "same-origin" });
        st = await res.json();
      } catch (e) {
        text.textContent = "lost contact with the server; reload the page";
        return;
      }
      bar.value = st.percent;
      if (!st.finished) {
        text.textContent = st.done + "/" + st.total + " done (" + st.percent + "%), " + st.elapsed + " elapsed" +
          (st.expected ? " of about " + st.expected : "");
        setTimeout(poll, 500);
        return;
      }
      text.textContent = "finished in " + st.elapsed;
      const result = document.getElementById("result");
      result.textContent = st.verdict;
      result.className = "verdict " + (st.ok ? "ok" : "bad");
      document.getElementById("links").classList.remove("hidden");
      const stop = document.getElementById("stop");
      if (stop) stop.hidden = true;
      run.dataset.finished = "true";
    };
    poll();
  }
})();
