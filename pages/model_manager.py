"""The Settings page's model manager: the GGUF models on this machine, switch with one click, download.

A view over ``memory_core.models``: ``list_local_models`` (headers read with the gguf layout),
``settings_for`` (the settings that run a model), ``remote_file`` (the size, before anything is
downloaded) and ``jobs.start_download`` (a background download the page polls once a second).
A switch is validated exactly like a typed path: the model must load before anything is saved.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from memory_core.config import Settings
from memory_core.errors import MemexError
from memory_core.explore.render import escape_markdown
from memory_core.explore.wording import count
from memory_core.models import RECOMMENDED, ModelInfo, human_size, list_local_models, remote_file
from memory_core.models import jobs as downloads
from memory_core.models.download import partial_downloads, recommended_upgrade, target_path
from memory_core.models.locate import is_current, model_folders, settings_for
from pages.common import flash, show_error

OTHER = "__other__"
RECOMMEND_KEY = "mm_recommend"  # set by the Chat page's "Answers are weak?": show that download first
FORM_KEYS = ("set_llm_backend", "set_model_path", "set_n_ctx")  # the settings form's widgets a switch changes
MAX_SHOWN = 40


def model_manager(s: Settings, check_llm: Callable[[Settings], Any]) -> None:
    """The whole section: apply a pending switch, list the models, offer downloads."""
    _apply_switch(s, check_llm)
    models = list_local_models(s)
    chat = [m for m in models if m.usable]
    st.subheader("Model manager")
    _recommended(s, {Path(m.path).name for m in chat})
    folders = [str(f) for _src, f in model_folders(s) if f.is_dir()]
    st.caption(f"{count(len(chat), 'chat model')} found: the bundled one and the GGUF files in "
               + (escape_markdown(", ".join(folders)) if folders else "no model folder yet")
               + ". Facts are read from each file's GGUF header.")
    for info in chat[:MAX_SHOWN]:
        _model_row(s, info)
    if len(chat) > MAX_SHOWN:
        st.caption(f"… and {len(chat) - MAX_SHOWN} more (see `memex models`).")
    others = [m for m in models if not m.usable]
    if others:
        with st.expander(f"Not chat models ({len(others)})"):
            for info in others:
                what = "embedding model" if info.embedding else f"unreadable: {info.error}"
                st.caption(f"{escape_markdown(info.path)} — {escape_markdown(what)}")
    _downloads(s)


def _recommended(s: Settings, local_names: set[str]) -> None:
    """The download the Chat page recommended (its size first), one click to start it."""
    key = st.session_state.get(RECOMMEND_KEY)
    r = next((r for r in RECOMMENDED if r.key == key), None)
    if r is None:
        return
    with st.container(border=True, key="mm_recommended"):
        st.markdown(f"**{human_size(r.size_bytes)} download** · {escape_markdown(r.title)} ({r.parameters} parameters) — "
                    "recommended for better answers from your notes.")
        st.caption(escape_markdown(f"{r.note} From {r.repo_id} ({r.filename}). It runs on this computer; nothing "
                             "else leaves it."))
        c1, c2 = st.columns([3, 1], vertical_alignment="center")
        if r.filename in local_names:
            c1.success("Already downloaded: choose **Use** on it in the list below.")
        elif c1.button(f"Download {human_size(r.size_bytes)}", key="mm_rec_download", type="primary", icon="⬇️"):
            try:
                downloads.start_download(r.repo_id, r.filename, s)
            except MemexError as exc:
                show_error(exc, "Cannot download this", escape=True)
            else:
                st.session_state.pop(RECOMMEND_KEY, None)
                st.rerun()
        c2.button("Not now", key="mm_rec_dismiss", type="tertiary",
                  on_click=lambda: st.session_state.pop(RECOMMEND_KEY, None))


def recommend(ram_bytes: int | None = None) -> None:
    """Ask the model manager to show the recommended upgrade first (the Chat page calls this)."""
    st.session_state[RECOMMEND_KEY] = recommended_upgrade(ram_bytes).key


def _key(path: str) -> str:
    return hashlib.sha1(path.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def _model_row(s: Settings, info: ModelInfo) -> None:
    current = is_current(s, info)
    with st.container(border=True, key=f"model_{_key(info.path)}"):
        c1, c2 = st.columns([5, 1], vertical_alignment="center")
        title = info.name if info.source == "Ollama" else Path(info.path).name  # Ollama blobs are "sha256-…"
        if info.source == "bundled":
            title += " (bundled)"
        c1.markdown(f"**{escape_markdown(title)}**" + (" · ✅ in use" if current else ""))
        facts = [info.name if info.name != title else "",
                 f"{info.size_label} parameters" if info.size_label else "", info.quantisation,
                 human_size(info.size_bytes), f"context {info.context_length:,}" if info.context_length else "",
                 info.architecture, info.source, info.repo_id,
                 "" if info.chat_template else "no chat template in the file"]
        c1.caption(escape_markdown(" · ".join(f for f in facts if f)) + "  \n" + escape_markdown(info.path))
        if not current:
            c2.button("Use", key=f"use_{_key(info.path)}", icon="🔁", on_click=_request_switch,
                      args=(info.path,), help="Load this model (checked before saving) and use it for chat and memory")


def _request_switch(path: str) -> None:
    st.session_state["_mm_switch"] = path


def _apply_switch(s: Settings, check_llm: Callable[[Settings], Any]) -> None:
    """Load the model the person clicked; save only if it loads. Runs before the form's widgets exist."""
    path = st.session_state.pop("_mm_switch", None)
    if not path:
        return
    info = next((m for m in list_local_models(s) if m.path == path), None)
    if info is None:
        st.error(f"The model file {escape_markdown(path)} is gone.")
        return
    try:
        candidate = settings_for(s, info)
        with st.spinner(f"Loading {info.name}…"):
            model = check_llm(candidate)
        saved = candidate.save()
    except MemexError as exc:
        show_error(exc, "This model cannot be used, so nothing was changed", escape=True)
        return
    except Exception as exc:  # noqa: BLE001 - llama.cpp load failures become a message
        show_error(exc, "This model cannot be used, so nothing was changed", escape=True)
        return
    for key in FORM_KEYS:  # the form below shows the new values, not the ones typed before
        st.session_state.pop(key, None)
    note = f" The context window is {candidate.n_ctx:,} (the model's own)." if candidate.n_ctx != s.n_ctx else ""
    flash("settings", "success", f"Now using {escape_markdown(model.name)}; saved to {escape_markdown(str(saved))}.{note}")
    st.rerun()


# ---- downloads --------------------------------------------------------------------------------------------
def _choice_label(key: str) -> str:
    if key == OTHER:
        return "Another GGUF on the Hugging Face hub…"
    r = next(r for r in RECOMMENDED if r.key == key)
    return f"{r.title} · {r.parameters} · Q4_K_M · {human_size(r.size_bytes)}"


def _downloads(s: Settings) -> None:
    st.markdown("**Download a model**")
    choice = st.selectbox("Model", [r.key for r in RECOMMENDED] + [OTHER], format_func=_choice_label,
                          key="mm_choice", help="Small instruct models known to work with llama.cpp, Q4_K_M.")
    if choice == OTHER:
        c1, c2 = st.columns(2)
        repo_id = c1.text_input("Repository", key="mm_repo", placeholder="Qwen/Qwen2.5-0.5B-Instruct-GGUF").strip()
        filename = c2.text_input("File", key="mm_file", placeholder="qwen2.5-0.5b-instruct-q4_k_m.gguf").strip()
    else:
        r = next(r for r in RECOMMENDED if r.key == choice)
        repo_id, filename = r.repo_id, r.filename
        st.caption(escape_markdown(f"{r.note} From {r.repo_id} ({r.filename})."))
    wanted = (repo_id, filename)
    if st.button("Check size", key="mm_check", icon="🔍", disabled=not (repo_id and filename)):
        try:
            target = target_path(s, filename)
            with st.spinner("Asking the hub for the file's size…"):
                st.session_state["_mm_remote"] = (wanted, remote_file(repo_id, filename), str(target))
        except MemexError as exc:
            st.session_state.pop("_mm_remote", None)
            show_error(exc, "Cannot download this", escape=True)
    checked = st.session_state.get("_mm_remote")
    if checked and checked[0] == wanted:
        _, remote, target = checked
        st.info(f"**{human_size(remote.size_bytes)}** ({remote.size_bytes:,} bytes) from "
                f"{escape_markdown(remote.repo_id)} at commit `{remote.revision[:12]}`, checksum "
                + (f"sha256 `{remote.sha256[:16]}…`" if remote.sha256 else "not given (size checked only)")
                + f". It will be saved as {escape_markdown(target)}.")
        if st.button(f"Download {human_size(remote.size_bytes)}", key="mm_download", type="primary", icon="⬇️"):
            downloads.start_download(remote.repo_id, remote.filename, s, remote=remote)
            st.session_state.pop("_mm_remote", None)
            st.rerun()
    running = any(j.running for j in downloads.jobs())
    st.fragment(_progress, run_every=1.0 if running else None)(s)


def _progress(s: Settings) -> None:
    """Every download of this process, with a progress bar while it runs; polled while one does."""
    was_running = st.session_state.get("_mm_running", False)
    now_running = False
    for job in downloads.jobs():
        name = escape_markdown(f"{job.repo_id}/{job.filename}")
        if job.running:
            now_running = True
            c1, c2 = st.columns([5, 1], vertical_alignment="center")
            c1.progress(job.fraction, text=f"{name}: {human_size(job.done)} of {human_size(job.total)}")
            c2.button("Stop", key=f"mm_stop_{job.id}", icon="⏹️", on_click=job.stop)
        elif job.state == "done":
            st.success(f"Downloaded and verified {name}. Choose **Use** on it above to switch.")
        elif job.state == "stopped":
            st.warning(f"Stopped {name} at {human_size(job.done)} of {human_size(job.total)}; the part is kept.")
        else:
            st.error(f"The download of {name} failed: {escape_markdown(job.error)}")
        if not job.running:
            st.button("Dismiss", key=f"mm_forget_{job.id}", type="tertiary", on_click=downloads.forget,
                      args=(job.id,))
    busy = {(j.repo_id, j.filename) for j in downloads.jobs() if j.running}
    for part in partial_downloads(s):
        if (part["repo_id"], part["filename"]) in busy:
            continue
        c1, c2 = st.columns([5, 1], vertical_alignment="center")
        c1.caption(f"Interrupted: {escape_markdown(part['repo_id'] + '/' + part['filename'])}, "
                   f"{human_size(part['done'])} of {human_size(part['total'])} downloaded.")
        if c2.button("Resume", key=f"mm_resume_{part['filename']}", icon="▶️"):
            try:
                downloads.start_download(part["repo_id"], part["filename"], s)
            except MemexError as exc:
                show_error(exc, "Cannot resume", escape=True)
            st.rerun()
    st.session_state["_mm_running"] = now_running
    if was_running and not now_running:
        st.rerun()  # the whole page: the new model appears in the list, polling stops
