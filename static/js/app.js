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
