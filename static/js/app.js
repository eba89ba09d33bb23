// Progressive enhancement only: every page works without this file.
"use strict";

// Topic graph: highlight a topic's prerequisite and dependent edges on hover or focus.
function wireGraph(svg) {
  const edges = Array.from(svg.querySelectorAll(".graph-edges path"));
  const setHot = (pk, on) => {
    for (const edge of edges) {
      if (edge.dataset.from === pk || edge.dataset.to === pk) edge.classList.toggle("is-hot", on);
    }
  };
  for (const node of svg.querySelectorAll(".graph-node")) {
    const pk = node.dataset.topic;
    for (const [event, on] of [["mouseenter", true], ["mouseleave", false], ["focus", true], ["blur", false]]) {
      node.addEventListener(event, () => setHot(pk, on));
    }
  }
}

function wireAll(root) {
  for (const svg of root.querySelectorAll("svg.topic-graph")) wireGraph(svg);
}

document.addEventListener("DOMContentLoaded", () => wireAll(document));
document.addEventListener("htmx:afterSettle", (event) => wireAll(event.target));

// The roadmap's side panel: a topic link in the work area (a graph box, a list item, a prerequisite
// in the panel) opens the topic in the panel while the graph stays. Each link is this page's own URL
// with ?topic=, which without JavaScript loads the whole page with the panel open.
function focusEdges(pk) {
  for (const edge of document.querySelectorAll(".graph-edges path")) {
    edge.classList.toggle("is-focus", edge.dataset.from === pk || edge.dataset.to === pk);
  }
  for (const node of document.querySelectorAll(".graph-node")) {
    if (node.dataset.topic === pk) node.setAttribute("aria-current", "true");
    else node.removeAttribute("aria-current");
  }
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("#topics a[href*='topic=']");
  const panel = document.getElementById("topic-panel");
  const graph = document.getElementById("topic-graph");
  if (!link || !panel || !window.htmx || event.ctrlKey || event.metaKey || event.shiftKey) return;
  if (graph && graph.classList.contains("is-marking") && link.closest("#topic-graph")) return;
  event.preventDefault();
  const href = link.getAttribute("href");
  htmx.ajax("GET", href, { target: "#topic-panel", swap: "outerHTML" }).then(() => {
    history.pushState({}, "", href);
    const fresh = document.getElementById("topic-panel");
    if (link.dataset.topic) focusEdges(link.dataset.topic);
    else {
      const slug = new URL(href, location.href).searchParams.get("topic");
      const node = slug && document.getElementById(`node-${slug}`);
      if (node) focusEdges(node.dataset.topic);
    }
    if (fresh && window.matchMedia("(max-width: 860px)").matches) fresh.scrollIntoView({ block: "start" });
  });
});
window.addEventListener("popstate", () => {
  if (document.getElementById("topic-panel")) location.reload();
});

// Marking mode on the topic graph: with a status chosen, a click on a topic sets it instead of
// opening the topic. The toolbar stays hidden without JavaScript, where a click opens the topic page.
function wireMarking(toolbar) {
  const graph = document.getElementById("topic-graph");
  if (!graph || !window.htmx || toolbar.dataset.wired) return;
  toolbar.dataset.wired = "1";
  toolbar.hidden = false;
  const mode = () => toolbar.querySelector("input[name=graph-mode]:checked")?.value || "open";
  toolbar.addEventListener("change", () => graph.classList.toggle("is-marking", mode() !== "open"));
  graph.addEventListener("click", (event) => {
    const node = event.target.closest(".graph-node");
    if (!node || mode() === "open") return;
    event.preventDefault();
    const slug = node.id.replace(/^node-/, "");
    node.classList.add("is-saving");
    htmx.ajax("POST", toolbar.dataset.url.replace("__topic__", encodeURIComponent(slug)), {
      source: node,
      swap: "none",
      values: { status: mode(), refresh: "layer roadmap" },
    }).finally(() => node.classList.remove("is-saving"));
  });
}

// After any status change (graph, list or topic page), recolour the topic's node if it is drawn here.
document.addEventListener("progress-changed", (event) => {
  const { topic, status } = event.detail || {};
  for (const node of document.querySelectorAll(`.graph-node[data-topic="${topic}"]`)) {
    node.classList.remove("status-not_started", "status-learning", "status-done", "status-skipped");
    node.classList.add(`status-${status}`);
    const title = node.querySelector("title");
    if (title) title.textContent = title.textContent.replace(/\([a-z ]+\)$/, `(${status.replace("_", " ")})`);
  }
});

document.addEventListener("DOMContentLoaded", () => {
  for (const toolbar of document.querySelectorAll("[data-graph-marking]")) wireMarking(toolbar);
});

// Copy buttons (the credential page's "Copy link"): shown only where the clipboard can be written;
// without them the link stays in a read-only field to select by hand.
function wireCopy(root) {
  for (const button of root.querySelectorAll("button[data-copy]")) {
    const field = document.getElementById(button.dataset.copy);
    if (!field || !navigator.clipboard || button.dataset.wired) continue;
    button.dataset.wired = "1";
    button.hidden = false;
    const status = button.closest("section")?.querySelector(".copy-status");
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(field.value);
        if (status) status.textContent = "Link copied.";
      } catch {
        field.select();
        if (status) status.textContent = "Select the link and copy it.";
      }
    });
  }
}

document.addEventListener("DOMContentLoaded", () => wireCopy(document));

// Forms marked data-warn-unsaved (the gate request's explanation and ticks): leaving the page with
// changes that were neither saved nor submitted asks first. Submitting the form itself never asks.
function wireUnsaved(form) {
  const snapshot = () => new URLSearchParams(new FormData(form)).toString();
  let saved = snapshot();
  let leaving = false;
  form.addEventListener("submit", () => { leaving = true; });
  window.addEventListener("beforeunload", (event) => {
    if (leaving || snapshot() === saved) return;
    event.preventDefault();
    event.returnValue = "";
  });
  form.addEventListener("reset", () => { saved = snapshot(); });
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-warn-unsaved]")) wireUnsaved(form);
});

// A search box over a long list of grouped checkboxes (the artifact form's topics): shown only with
// JavaScript; without it every checkbox stays listed. Checked boxes always stay visible.
function wireChecksSearch(root) {
  for (const box of root.querySelectorAll("input[data-checks-search]")) {
    const list = document.getElementById(box.dataset.checksSearch);
    if (!list || box.dataset.wired) continue;
    box.dataset.wired = "1";
    box.hidden = false;
    box.addEventListener("input", () => {
      const words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
      for (const group of list.children) {
        const title = (group.querySelector(":scope > label")?.textContent || "").toLowerCase();
        let shown = 0;
        for (const option of group.querySelectorAll(":scope > div")) {
          const text = `${title} ${option.textContent.toLowerCase()}`;
          const keep = option.querySelector("input:checked") || words.every((w) => text.includes(w));
          option.hidden = !keep;
          if (keep) shown += 1;
        }
        group.hidden = shown === 0;
      }
    });
  }
}
document.addEventListener("DOMContentLoaded", () => wireChecksSearch(document));
