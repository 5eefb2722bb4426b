"""Keep a chat template's turn markers out of replies.

Why: llama-cpp-python formats the prompt with the GGUF's own template (``tokenizer.chat_template``,
through its Jinja2ChatFormatter) but stops only on the end-of-sequence token. When a template's
turn markers are not end-of-generation tokens of the model's vocabulary — a re-packaged file, a
template written for a sibling model, a small model imitating the pattern it was just shown —
the reply comes out as ``"<end_of_turn>\\nBruno is a dog.<end_of_turn>\\n<start_of_turn>user…"``.

The markers are read from the template itself: it is rendered once with a sample conversation and
every marker-looking piece (``<|im_end|>``, ``<end_of_turn>``, ``<|eot_id|>``, ``[INST]``, ``</s>``…)
is collected. While a reply streams, markers before any text are dropped, and the first marker
after some text ends the reply (the model is starting a new turn).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

MARKER = re.compile(r"<\|[^|<>\s]{1,40}\|>|<[a-z][a-z0-9_]{1,30}>|</s>|<s>|\[/?INST\]|<</?SYS>>|<｜[^｜]{1,40}｜>")
SAMPLE = [{"role": "system", "content": "SYSTEMTEXT"}, {"role": "user", "content": "USERTEXT"},
          {"role": "assistant", "content": "ASSISTANTTEXT"}, {"role": "user", "content": "USERTEXT2"}]


@dataclass(frozen=True)
class TemplateGuard:
    """The markers of one chat template; ``filter`` applies them to a stream of text pieces."""

    markers: tuple[str, ...] = ()

    @classmethod
    def from_template(cls, template: str, bos: str = "", eos: str = "") -> TemplateGuard:
        """Markers found by rendering ``template``; none (a guard that changes nothing) if it cannot render."""
        found: list[str] = []
        rendered = _render(template, bos, eos)
        for m in MARKER.finditer(rendered):
            if m.group(0) not in found:
                found.append(m.group(0))
        for token in (eos, bos):
            if token and MARKER.fullmatch(token) and token not in found:
                found.append(token)
        return cls(tuple(found))

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any], eos: str = "", bos: str = "") -> TemplateGuard:
        template = metadata.get("tokenizer.chat_template") or ""
        return cls.from_template(template, bos=bos, eos=eos) if template else cls()

    def filter(self, pieces: Iterable[str], info: dict[str, Any] | None = None) -> Iterator[str]:
        """``pieces`` without leading markers, ended at the first marker after some text.

        ``info["finish_reason"]`` becomes "stop" when a marker ended the reply.
        """
        if not self.markers:
            yield from pieces
            return
        session = GuardSession(self.markers)
        try:
            for piece in pieces:
                out = session.feed(piece)
                if out:
                    yield out
                if session.stopped:
                    if info is not None:
                        info["finish_reason"] = "stop"
                    return
            tail = session.flush()
            if tail:
                yield tail
        finally:  # stop the generation now, in this thread (a local model's lock is held inside it)
            close = getattr(pieces, "close", None)
            if callable(close):
                close()


class GuardSession:
    """The state of one reply: text held back while it could still be the start of a marker."""

    def __init__(self, markers: tuple[str, ...]) -> None:
        self.markers = markers
        self.buffer = ""
        self.started = False
        self.stopped = False

    def feed(self, piece: str) -> str:
        if self.stopped:
            return ""
        self.buffer += piece
        if not self.started:
            self._strip_leading()
            if not self.buffer or self._could_be_marker(self.buffer):
                return ""
            self.started = True
        first = min(((self.buffer.find(m), m) for m in self.markers if m in self.buffer), default=None)
        if first is not None:
            out, self.buffer = self.buffer[:first[0]].rstrip(), ""
            self.stopped = True
            return out
        hold = self._held_back()
        out = self.buffer[:len(self.buffer) - hold]
        self.buffer = self.buffer[len(self.buffer) - hold:]
        return out

    def flush(self) -> str:
        out, self.buffer = ("" if self.stopped else self.buffer), ""
        if not self.started:
            out = out.strip()
            out = "" if self._could_be_marker(out) else out
        return out

    def _strip_leading(self) -> None:
        changed = True
        while changed:
            changed = False
            stripped = self.buffer.lstrip()
            for m in self.markers:
                if stripped.startswith(m):
                    stripped = stripped[len(m):]
                    changed = True
            self.buffer = stripped

    def _could_be_marker(self, text: str) -> bool:
        return any(m.startswith(text) for m in self.markers)

    def _held_back(self) -> int:
        """Length of the longest end of the buffer that is the start of a marker."""
        longest = max(len(m) for m in self.markers)
        for n in range(min(longest - 1, len(self.buffer)), 0, -1):
            tail = self.buffer[-n:]
            if any(m.startswith(tail) for m in self.markers):
                return n
        return 0


def _render(template: str, bos: str, eos: str) -> str:
    """The template applied to SAMPLE the way llama-cpp-python applies it (its Jinja2ChatFormatter)."""
    try:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter
    except ImportError:  # pragma: no cover - llama-cpp-python is a dependency
        return ""
    for messages in (SAMPLE, SAMPLE[1:]):  # some templates refuse a system message
        try:
            formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
            # llama_cpp types messages as one TypedDict per role; ours are plain dicts with the same keys
            return formatter(messages=messages).prompt  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001, S112 - a template that raises: try without the system turn
            continue
    return ""
