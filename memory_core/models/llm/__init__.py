"""One interface over llama.cpp: a GGUF file in this process, or a llama.cpp server over HTTP.

Why it exists: the chat page streams tokens, and the memory pipeline needs small JSON answers
from models as tiny as SmolLM2-135M. Tiny models misbehave (repeat one word until the token cap,
invent junk tags), so structured calls here are bounded, validated, retried once, and then fall
back to a deterministic answer: the caller always gets a usable value and never an exception.

The parts, each a module: ``results`` (what a call gives back), ``protocol`` (the ``LLM`` every
caller depends on), ``trim`` (fitting a prompt into the context), ``base`` (streaming and structured
calls shared by both backends), ``local`` and ``server`` (the two backends), ``cache`` (one model per
process: ``get_llm``). Which file to load is decided in ``models.locate``; its three functions are
named here too because callers have long imported them from this package.
"""

from ..locate import bundled_model_path, check_gguf, resolve_model_path
from .base import REPEAT_PENALTY, _Base
from .cache import get_llm
from .local import PREFILL_CHUNK, LocalLLM, free_at_exit
from .protocol import LLM, Fallback, Validator
from .results import (
    AbortCheck,
    ChatResult,
    Interrupted,
    Message,
    StructuredResult,
    TokenStream,
    TrimReport,
    Usage,
)
from .server import ServerLLM
from .trim import fit_messages

__all__ = ["LLM", "PREFILL_CHUNK", "REPEAT_PENALTY", "AbortCheck", "ChatResult", "Fallback", "Interrupted",
           "LocalLLM", "Message", "ServerLLM", "StructuredResult", "TokenStream", "TrimReport", "Usage", "Validator",
           "_Base", "bundled_model_path", "check_gguf", "fit_messages", "free_at_exit", "get_llm",
           "resolve_model_path"]
