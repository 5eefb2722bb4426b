"""The write path of the memory: what is remembered, enrichment, linking, proposals and review.

``from memory_core.memory import MemoryPipeline`` is the way in for the app, the CLI and benchmarks.
"""

from .outcome import RememberOutcome
from .pipeline import MODES, BulkReport, MemoryPipeline, NewItem, WriteReport, enrichment_messages

__all__ = ["MODES", "BulkReport", "MemoryPipeline", "NewItem", "RememberOutcome", "WriteReport",
           "enrichment_messages"]
