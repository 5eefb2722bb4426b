"""Chat with memory: the session (one turn), the prompt, conversations on disk, the background writer.

``from memory_core.chat import ChatSession`` is the way in for the Chat page, ``memex chat`` and the
benchmarks; nothing here imports Streamlit.
"""

from ..episodes.conversations import (
           Conversation,
           ConversationStore,
           ConversationSummary,
           make_title,
           new_message,
)
from .gate import GatedLLM, ReplyGate, WriteCancelled
from .jobs import WriteJob
from .lifecycle import get_writer
from .prompt import SYSTEM_PROMPT, PromptPlan, Recalled, build_prompt, shorten_middle
from .reply import Reply, close_stream
from .session import ChatSession, job_outcome, turn_context
from .writer import MemoryWriter

__all__ = ["SYSTEM_PROMPT", "ChatSession", "Conversation", "ConversationStore", "ConversationSummary", "GatedLLM",
           "MemoryWriter", "PromptPlan", "Recalled", "Reply", "ReplyGate", "WriteCancelled", "WriteJob", "build_prompt",
           "close_stream", "get_writer", "job_outcome", "make_title", "new_message",
           "shorten_middle", "turn_context"]
