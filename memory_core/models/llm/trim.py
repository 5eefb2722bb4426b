"""Fitting a prompt into the model's context window.

Why a function of its own: a small model has a small window (SmolLM2's is 2,048 tokens), and a long
history or many recalled notes must be cut so that the reply still fits, in a way the person can be
told about (the ``TrimReport``).
"""

from __future__ import annotations

from collections.abc import Callable

from .results import Message, TrimReport


def fit_messages(messages: list[Message], max_tokens: int, n_ctx: int, count_tokens: Callable[[str], int]
                 ) -> tuple[list[Message], TrimReport]:
    """Cut a prompt so prompt + reply fit in ``n_ctx`` tokens, counted with ``count_tokens``.

    Drops the oldest non-system turns first (keeping the last message), then shortens the
    longest message's middle. The report says what was cut so the caller can tell the person.
    """
    budget = max(64, n_ctx - max_tokens - 16)
    msgs = [dict(m) for m in messages]
    report = TrimReport()

    def total() -> int:
        return sum(count_tokens(m["content"]) + 6 for m in msgs)

    size = total()
    while size > budget and len(msgs) > 2:
        idx = 1 if msgs[0]["role"] == "system" else 0
        if idx >= len(msgs) - 1:
            break
        size -= count_tokens(msgs[idx]["content"]) + 6
        msgs.pop(idx)
        report.dropped_messages += 1
    while size > budget:
        longest = max(range(len(msgs)), key=lambda i: len(msgs[i]["content"]))
        text = msgs[longest]["content"]
        if len(text) < 40:
            break
        excess_tokens = size - budget
        cut = min(len(text) - 20, max(32, int(excess_tokens * 4.2)))
        keep_head = (len(text) - cut) // 2
        keep_tail = len(text) - cut - keep_head
        msgs[longest]["content"] = text[:keep_head] + " [...] " + (text[-keep_tail:] if keep_tail else "")
        report.truncated_chars += cut
        size = total()
    report.prompt_tokens = size
    return msgs, report
