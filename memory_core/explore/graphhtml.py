"""A graph view as one self-contained HTML file: what the Graph page's "Download this view" gives.

Why pyvis: it is made for this (a vis-network page from nodes and edges). pyvis builds the node
and edge data and ships vis-network, which is inlined from its package, so the file opens offline,
anywhere, and keeps working after the app is gone. We render our own small template rather than
pyvis's ``template.html`` because that one always links Bootstrap from a CDN and, when any tooltip
contains "href", switches to a popup that assigns the tooltip with ``innerHTML``.

Note text is data: tooltips are ``html.escape``d here, and the page decodes them inside a
``<textarea>`` (an inert parsing context: no element is ever created) and shows the result with
``textContent``. Labels are drawn on the canvas as text. All node and edge data sits in a
``<script>`` as JSON with ``<``, ``>``, ``&`` and ``'`` escaped (Jinja's ``tojson``), so no note can
close the script or open a tag. Nothing is written to disk.
"""

from __future__ import annotations

import html
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import InputError
from .graphdraw import edge_look, node_look
from .graphstyle import edge_text, tooltip_text, vis_options
from .graphview import GraphView

_TEMPLATE = """<!DOCTYPE html>
<html><head><meta charset="utf-8">
<style>{{ vis_css|safe }}</style>
<script>{{ vis_js|safe }}</script>
<style>
html, body { margin: 0; padding: 0; background: #ffffff; font-family: sans-serif; }
#memex-graph { width: 100%; height: {{ height }}; border: 1px solid #e2e8f0; box-sizing: border-box; }
.vis-tooltip { font-family: sans-serif; }
.memex-tip { white-space: pre-wrap; max-width: 440px; font-size: 12px; line-height: 1.35; }
</style></head>
<body><div id="memex-graph"></div>
<script>
(function () {
  // Tooltips arrive HTML-escaped. A <textarea> parses its content as plain text (no element is ever
  // created, nothing runs), so its value is the note's own text, shown with textContent.
  function asText(escaped) {
    var decoder = document.createElement("textarea");
    decoder.innerHTML = escaped;
    var tip = document.createElement("div");
    tip.className = "memex-tip";
    tip.textContent = decoder.value;
    return tip;
  }
  var nodes = {{ nodes|tojson }};
  var edges = {{ edges|tojson }};
  var options = {{ options|tojson }};
  nodes.forEach(function (n) { if (typeof n.title === "string") { n.title = asText(n.title); } });
  edges.forEach(function (e) { if (typeof e.title === "string") { e.title = asText(e.title); } });
  var network = new vis.Network(document.getElementById("memex-graph"),
                                {nodes: new vis.DataSet(nodes), edges: new vis.DataSet(edges)}, options);
  {% if physics %}
  network.once("stabilizationIterationsDone", function () { network.fit(); });
  {% endif %}
  {% if focus %}
  network.selectNodes([{{ focus|tojson }}]);
  {% endif %}
  window.memexGraph = {network: network, nodes: nodes.length, edges: edges.length};
})();
</script></body></html>
"""


@lru_cache(maxsize=1)
def vis_assets() -> tuple[str, str]:
    """vis-network's JS and CSS as shipped inside the pyvis package (inlined: no CDN, works offline)."""
    import pyvis

    lib = Path(pyvis.__file__).parent / "templates" / "lib"
    folders = sorted(lib.glob("vis-*/vis-network.min.js"), key=lambda p: [int(x) for x in
                     p.parent.name[4:].split(".") if x.isdigit()])
    if not folders:  # pragma: no cover - broken install
        raise InputError(f"pyvis is installed without vis-network ({lib}); reinstall pyvis.")
    js = folders[-1]
    css = js.with_name("vis-network.css")
    return js.read_text(encoding="utf-8"), css.read_text(encoding="utf-8") if css.exists() else ""


@lru_cache(maxsize=1)
def _template() -> Any:
    from jinja2 import Environment

    return Environment(autoescape=True).from_string(_TEMPLATE)


def to_network(view: GraphView, height: str = "640px") -> Any:
    """The pyvis Network of a view (escaped tooltips; styles by who made each link)."""
    from pyvis.network import Network

    net = Network(height=height, width="100%", directed=True, cdn_resources="in_line")
    for nid in view.node_ids:
        note = view.notes[nid]
        tip = tooltip_text(note, view.degrees.get(nid, 0), view.evolved.get(nid, 0), view.strengths.get(nid))
        net.add_node(nid, label=note.title, title=html.escape(tip), **node_look(view, nid))
    for u, v, attrs in view.edges:
        net.add_edge(u, v, title=html.escape(edge_text(attrs)), **edge_look(attrs))
    net.options = vis_options(view.query.physics)
    return net


def to_html(view: GraphView, height: str = "640px") -> str:
    """A self-contained HTML page (vis-network inlined) drawing the view; nothing is written to disk."""
    net = to_network(view, height)
    nodes, edges, _heading, height, _width, _options = net.get_network_data()
    js, css = vis_assets()
    return _template().render(vis_js=js, vis_css=css, nodes=nodes, edges=edges, options=net.options,
                              height=height, physics=view.query.physics, focus=view.focus)
