// Draws each [data-graph] element's block graph (JSON from json_script) with Cytoscape and the dagre layout.
document.addEventListener("DOMContentLoaded", () => {
  for (const el of document.querySelectorAll("[data-graph]")) {
    const data = JSON.parse(document.getElementById(el.dataset.graph).textContent);
    const cy = cytoscape({
      container: el,
      elements: [...data.nodes, ...data.edges],
      layout: { name: "dagre", rankDir: "TB", nodeSep: 30, rankSep: 60 },
      wheelSensitivity: 0.3,
      style: [
        { selector: "node", style: { "shape": "round-rectangle", "background-color": "#e8eef8", "border-color": "#5b7bb5",
          "border-width": 1, "label": "data(label)", "text-wrap": "wrap", "text-valign": "center", "font-size": 10,
          "width": "label", "height": "label", "padding": 8 } },
        { selector: "node[?root]", style: { "background-color": "#fff2d6", "border-color": "#c98b00", "border-width": 2 } },
        { selector: "edge", style: { "curve-style": "bezier", "target-arrow-shape": "triangle", "width": 1.5,
          "line-color": "#8a99b3", "target-arrow-color": "#8a99b3", "label": "data(label)", "font-size": 9,
          "text-background-color": "#fff", "text-background-opacity": 1, "text-background-padding": 2 } },
      ],
    });
    el.dataset.ready = String(cy.nodes().length);
  }
});
