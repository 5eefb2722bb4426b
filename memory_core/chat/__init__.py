"""Chat with memory: the session (one turn), the prompt, conversations on disk, the background writer.

``from memory_core.chat import ChatSession`` is the way in for the Chat page, ``memex chat`` and the
benchmarks; nothing here imports Streamlit.
"""

from .conversations import Conversation, ConversationStore, ConversationSummary, make_title, new_message
from .gate import GatedLLM, ReplyGate
from .prompt import SYSTEM_PROMPT, PromptPlan, Recalled, build_prompt, shorten_middle
from .session import ChatSession, Reply, close_stream, exchange_text, job_outcome
from .writer import MemoryWriter, WriteJob, get_writer

__all__ = ["SYSTEM_PROMPT", "ChatSession", "Conversation", "ConversationStore", "ConversationSummary", "GatedLLM",
           "MemoryWriter", "PromptPlan", "Recalled", "Reply", "ReplyGate", "WriteJob", "build_prompt",
           "close_stream", "exchange_text", "get_writer", "job_outcome", "make_title", "new_message",
           "shorten_middle"]
