"""The clickable graph: a Streamlit custom component (``st.components.v2``) around vis-network.

Why a component: a plain HTML iframe draws the graph but cannot tell Python which node was
clicked. ``st.components.v2`` runs our module in the page and gives it ``setTriggerValue``:
a click on a node reruns the script with ``clicked`` set to that note's id, a double-click with
``focus``. vis-network comes from the pyvis package (inlined into the module: no CDN, works
offline); Streamlit serves the module once per content (a blob URL it caches), so reruns do not
reload it. The data (nodes, edges, options) is built by ``memory_core.explore.graphdraw`` and is JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import streamlit as st

HERE = Path(__file__).parent
NAME = "memex_graph"
HTML = '<div class="memex-graph-root"><div class="memex-graph-canvas" data-testid="memex-graph"></div></div>'
# Height follows the window (the component is part of the page, so 100vh is the browser's height).
CSS = """
.memex-graph-canvas { width: 100%; height: max(440px, calc(100vh - 230px)); border: 1px solid #e2e8f0;
  border-radius: 6px; box-sizing: border-box; background: #ffffff; }
.memex-graph-root div.vis-tooltip { position: absolute; visibility: hidden; padding: 6px 8px;
  background: #fffbea; border: 1px solid #d6c48a; border-radius: 4px; box-shadow: 2px 2px 8px rgba(0,0,0,.15);
  font-family: sans-serif; font-size: 12px; color: #1a202c; pointer-events: none; z-index: 10; }
.memex-graph-root .memex-tip { white-space: pre-wrap; max-width: 440px; line-height: 1.35; }
"""


@lru_cache(maxsize=1)
def _js() -> str:
    from memory_core.explore.graphhtml import vis_assets

    vis_js, _css = vis_assets()
    return vis_js + "\n;\n" + (HERE / "graph_canvas.js").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _component() -> Any:
    return st.components.v2.component(NAME, html=HTML, css=CSS, js=_js(), isolate_styles=False)


def graph_canvas(data: dict[str, Any], *, key: str, on_click: Callable[[], None],
                 on_focus: Callable[[], None]) -> Any:
    """Mount the canvas. The callbacks run before the rerun; read the id from
    ``st.session_state[key]["clicked"]`` / ``["focus"]``."""
    return _component()(key=key, data=data, on_clicked_change=on_click, on_focus_change=on_focus)


def trigger(key: str, name: str) -> str | None:
    """The id a click (``name="clicked"``) or double-click (``"focus"``) just sent, if any."""
    value = st.session_state.get(key)
    got = None
    if value is not None:
        got = value.get(name) if hasattr(value, "get") else getattr(value, name, None)
    return got if isinstance(got, str) and got else None
