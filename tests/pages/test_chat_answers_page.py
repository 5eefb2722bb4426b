"""The Chat page and issue 24's items 5 and 6 through AppTest (the real bundled model and MiniLM): "thanks!"
recalls nothing and shows no note; a reply that fell back to its note shows the note's sentence as the
answer and the model's words apart; after a few such misses one click leads to the model manager with
the recommended download, its size first."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from memory_core.chat import ConversationStore, get_writer, new_message
from memory_core.chat.fallback import FALLBACK_LEAD, MISSES_BEFORE_OFFER, fallback_text
from memory_core.config import Settings
from memory_core.explore.render import escape_markdown as md_escape
from memory_core.memory.pipeline import MemoryPipeline, NewItem
from memory_core.models import human_size
from memory_core.models.download import recommended_upgrade
from memory_core.store import MemoryStore

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.real_model

APP = str(ROOT / "app.py")
TIMEOUT = 900
FACT = "I ride an old blue bicycle everywhere, a Gazelle from the nineties."


@pytest.fixture(autouse=True)
def writer_idle():
    yield
    get_writer().wait_idle(TIMEOUT)


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_thanks_recalls_nothing_and_shows_no_note(app_home: Settings, embedder) -> None:
    MemoryPipeline(MemoryStore(app_home, embedder), app_home).add_many(
        [NewItem(FACT), NewItem("Thanks to my sister Lena I finally learned to swim.")])
    at = run(AppTest.from_file(APP, default_timeout=TIMEOUT))
    at.chat_input(key="chat_input").set_value("thanks!")
    run(at)
    assert [m.name for m in at.chat_message] == ["user", "assistant"]
    assert not [e for e in at.expander if e.label.startswith("Recalled memories")]
    assert not [c for c in at.caption if c.value.startswith("📎 From your memory")]
    saved = ConversationStore(app_home.home).load(at.session_state["chat_conv"]).messages[-1]
    assert saved["recalled"] == [] and 0 < saved["usage"]["completion_tokens"] <= 24


def test_fallback_replies_show_the_note_and_offer_a_better_model(app_home: Settings, embedder) -> None:
    convs = ConversationStore(app_home.home)
    conv = convs.new()
    for i in range(MISSES_BEFORE_OFFER):
        question = new_message("user", f"What colour is my bike? ({i})")
        convs.append(conv.id, question, create=conv)
        answer = new_message("assistant", fallback_text(FACT, "2026-11-02"), fallback=True,
                             model_reply="I'm sorry for your loss.", recalled=[
                                 {"id": "n1", "in_prompt": True, "text": FACT, "timestamp": "2026-11-02T10:00:00"}])
        convs.append(conv.id, answer)
    at = run(AppTest.from_file(APP, default_timeout=TIMEOUT))
    replies = [m for m in at.chat_message if m.name == "assistant"]
    assert len(replies) == MISSES_BEFORE_OFFER
    text = replies[0].markdown[0].value
    assert text.startswith(md_escape(FALLBACK_LEAD)) and "From your memory\\: “" + md_escape(FACT) in text
    captions = [c.value for c in at.caption]
    assert "The model's answer, which did not use your note: “" + md_escape("I'm sorry for your loss.") + "”" \
        in captions
    assert not any(c.startswith("📎 From your memory") for c in captions)  # the note is the answer, not repeated
    r = recommended_upgrade()
    offer = [i.value for i in at.info if "did not use your notes" in i.value]
    assert offer and human_size(r.size_bytes) in offer[0]

    at.button(key="chat_better_model").click()
    at.run()
    assert at.session_state["mm_recommend"] == r.key
    at.switch_page("pages/settings.py")
    run(at)
    first = [m.value for m in at.markdown if "download" in m.value]
    assert first and first[0].startswith(f"**{human_size(r.size_bytes)} download** · {md_escape(r.title)}")
    assert at.button(key="mm_rec_download").label == f"Download {human_size(r.size_bytes)}"


def test_the_answers_are_weak_hint_is_there_with_the_bundled_model(app_home: Settings) -> None:
    at = run(AppTest.from_file(APP, default_timeout=TIMEOUT))
    hint = at.button(key="chat_better_model")
    assert hint.label == "Answers are weak?"
    hint.click()
    at.run()
    assert at.session_state["mm_recommend"] == recommended_upgrade().key


def test_a_fallback_reply_is_redrawn_escaped_when_its_stream_ends() -> None:
    """While the reply streams, its text goes through safe_markdown; once the reply has fallen back to the
    note, the box shows the person's words escaped ("# Shopping" stays a line, not a heading)."""
    def page() -> None:
        from memory_core.chat.fallback import fallback_text
        from pages.chat_widgets import stream_reply

        class Stub:
            fallback, error = True, ""
            text = fallback_text("# Shopping\n- **eggs**", "2026-11-02")

            def pieces(self):
                yield "I'm sorry for your loss."
                yield "\n\n" + self.text

        stream_reply(Stub())

    at = run(AppTest.from_function(page, default_timeout=TIMEOUT))
    note = "# Shopping\n- **eggs**"
    shown = [m.value for m in at.markdown]
    assert len(shown) == 1 and shown[0].startswith(md_escape(FALLBACK_LEAD))  # one box, the model's words gone
    assert "From your memory\\: “" + md_escape(note) + "” \\(2026\\-11\\-02\\)" in shown[0]
