// The Graph page's canvas: vis-network drawing the nodes/edges Python sends as `data`, and the two
// things a person does with it sent back to Python as trigger values:
//   click on a node        -> setTriggerValue("clicked", id)   (Python opens that note beside the graph)
//   double-click on a node -> setTriggerValue("focus", id)     (Python draws only its neighbourhood)
// Note text only ever reaches the DOM through textContent (tooltips); labels are drawn on the canvas.
// The network is rebuilt only when the drawing's signature changes, so selecting a note does not
// re-layout the graph.
const NETWORKS = new WeakMap();

function tip(text) {
  const el = document.createElement("div");
  el.className = "memex-tip";
  el.textContent = String(text == null ? "" : text);
  return el;
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const host = parentElement.querySelector(".memex-graph-canvas");
  if (!host || !data || !Array.isArray(data.nodes)) return;
  const vis = globalThis.vis;
  let state = NETWORKS.get(parentElement);
  if (!state || state.sig !== data.sig) {
    if (state) state.network.destroy();
    const nodes = data.nodes.map((n) => Object.assign({}, n, { title: tip(n.title) }));
    const edges = data.edges.map((e) => Object.assign({}, e, { title: tip(e.title) }));
    const network = new vis.Network(host, { nodes: new vis.DataSet(nodes), edges: new vis.DataSet(edges) },
                                    data.options);
    network.on("click", (p) => {
      if (p.nodes && p.nodes.length) setTriggerValue("clicked", String(p.nodes[0]));
    });
    network.on("doubleClick", (p) => {
      if (p.nodes && p.nodes.length) setTriggerValue("focus", String(p.nodes[0]));
    });
    if (data.options && data.options.physics && data.options.physics.enabled) {
      network.once("stabilizationIterationsDone", () => network.fit());
    }
    state = { sig: data.sig, network: network };
    NETWORKS.set(parentElement, state);
    host.setAttribute("data-nodes", String(nodes.length));
    host.setAttribute("data-edges", String(edges.length));
    // For tests and the curious: what is drawn (id, label, border colour) and where, in page pixels.
    host.memexDrawn = () => data.nodes.map((n) => ({ id: n.id, label: n.label,
                                                     border: n.color ? n.color.border : "" }));
    host.memexNodeAt = (id) => {
      const pos = network.getPositions([id])[id];
      if (!pos) return null;
      const dom = network.canvasToDOM(pos);
      const box = host.getBoundingClientRect();
      return { x: box.left + dom.x, y: box.top + dom.y };
    };
  }
  const chosen = data.selected || data.focus;
  if (chosen) {
    try { state.network.selectNodes([chosen]); } catch (e) { /* not drawn */ }
  } else {
    state.network.unselectAll();
  }
  host.setAttribute("data-selected", data.selected || "");
  return () => {
    const current = NETWORKS.get(parentElement);
    if (current) { current.network.destroy(); NETWORKS.delete(parentElement); }
  };
}
