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
