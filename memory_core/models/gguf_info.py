"""What a GGUF file is, read from its header: name, parameters, quantisation, context length, template.

Why not ``gguf.GGUFReader`` itself: it builds a numpy view for every element of every array, so
the token list alone (49k-262k strings) takes seconds per file (4 s for the bundled 98 MB model),
and the model manager lists every GGUF on the machine on each Settings page load. This reader walks
the same header layout with ``struct`` over a memory map, skipping arrays it does not need, and
takes its vocabulary from the ``gguf`` package (value types, file types, quantisation types, keys);
tests compare its answers with ``GGUFReader`` on real files.
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gguf import GGMLQuantizationType, GGUFValueType, LlamaFileType

from ..errors import ModelError

MAGIC = b"GGUF"
KEEP_ARRAY = 64  # small arrays (languages, tags) are kept; vocabularies and merges are skipped
_SCALAR = {
    GGUFValueType.UINT8: "<B", GGUFValueType.INT8: "<b", GGUFValueType.UINT16: "<H", GGUFValueType.INT16: "<h",
    GGUFValueType.UINT32: "<I", GGUFValueType.INT32: "<i", GGUFValueType.FLOAT32: "<f", GGUFValueType.BOOL: "<?",
    GGUFValueType.UINT64: "<Q", GGUFValueType.INT64: "<q", GGUFValueType.FLOAT64: "<d",
}
EMBEDDING_ARCHS = {"bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "t5encoder", "modern-bert", "neo-bert"}
TOKEN_KEYS = {"bos": "tokenizer.ggml.bos_token_id", "eos": "tokenizer.ggml.eos_token_id",
              "eot": "tokenizer.ggml.eot_token_id"}


@dataclass
class ModelInfo:
    """One GGUF file as the model manager shows it. ``error`` is set when the header cannot be read."""

    path: str
    name: str = ""
    source: str = ""  # where it was found: "data dir", "bundled", "Hugging Face cache", "Ollama", ...
    architecture: str = ""
    parameters: int = 0  # counted from the tensor shapes
    size_label: str = ""  # "135M", "1.5B": the file's own label, else from ``parameters``
    quantisation: str = ""  # "Q4_K_M", "Q8_0", "F16", ...
    size_bytes: int = 0
    context_length: int = 0  # what the model was trained for (Settings' n_ctx may be smaller)
    chat_template: str = field(default="", repr=False)
    bos_token: str = ""
    eos_token: str = ""
    eot_token: str = ""
    repo_id: str = ""  # Hugging Face repository, when known
    embedding: bool = False  # an embedding model (bert & co.), not a chat model
    error: str = ""

    @property
    def usable(self) -> bool:
        return not self.error and not self.embedding

    def to_dict(self, template: bool = False) -> dict[str, Any]:
        out = asdict(self)
        out["has_chat_template"] = bool(self.chat_template)
        if not template:
            out.pop("chat_template")
        return out


def read_gguf_info(path: str | os.PathLike[str]) -> ModelInfo:
    """The header facts of one GGUF file; ModelError (naming the file) when it is not a readable GGUF."""
    p = Path(path).expanduser()
    try:
        size = p.stat().st_size
        with p.open("rb") as fh:
            if fh.read(4) != MAGIC:
                raise ModelError(f"{p} is not a GGUF file (it does not start with 'GGUF').")
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                meta, tensors = _parse(mm)
                return _info(p, size, meta, tensors)  # inside: the special tokens are read from the map
    except ModelError:
        raise
    except (OSError, ValueError) as exc:
        raise ModelError(f"Cannot read {p}: {exc}") from exc
    except (struct.error, IndexError, UnicodeDecodeError) as exc:
        raise ModelError(f"{p} has a damaged or truncated GGUF header ({type(exc).__name__}: {exc}).") from exc


def is_gguf(path: str | os.PathLike[str]) -> bool:
    """True when the file starts with the GGUF magic (Ollama's blobs have no file extension)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == MAGIC
    except OSError:
        return False


# ---- parsing --------------------------------------------------------------------------------------------
class _Cursor:
    def __init__(self, buf: Any) -> None:
        self.buf = buf
        self.pos = 0

    def unpack(self, fmt: str) -> Any:
        value = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        n = self.unpack("<Q")
        if n > len(self.buf) - self.pos:
            raise ValueError(f"string of {n} bytes runs past the end of the file")
        raw = self.buf[self.pos:self.pos + n]
        self.pos += n
        return bytes(raw).decode("utf-8", "replace")

    def skip_string(self) -> None:
        n = self.unpack("<Q")
        self.pos += n


class _Tokens:
    """The vocabulary, left in the file: only the few special tokens are ever decoded."""

    def __init__(self, buf: Any, start: int, count: int) -> None:
        self.buf, self.start, self.count = buf, start, count

    def pick(self, ids: list[int]) -> dict[int, str]:
        wanted = {i for i in ids if 0 <= i < self.count}
        out: dict[int, str] = {}
        if not wanted:
            return out
        cur = _Cursor(self.buf)
        cur.pos = self.start
        last = max(wanted)
        for i in range(last + 1):
            if i in wanted:
                out[i] = cur.string()
            else:
                cur.skip_string()
        return out


def _parse(buf: Any) -> tuple[dict[str, Any], list[tuple[str, int, int]]]:
    """(metadata, tensors as (name, element count, ggml type)). Token strings are kept under "_tokens"."""
    cur = _Cursor(buf)
    cur.pos = 4
    version = cur.unpack("<I")
    if version not in (2, 3):
        raise ValueError(f"GGUF version {version} is not supported (only 2 and 3, little-endian)")
    n_tensors = cur.unpack("<Q")
    n_kv = cur.unpack("<Q")
    if n_kv > 100_000 or n_tensors > 1_000_000:
        raise ValueError("implausible header counts")
    meta: dict[str, Any] = {}
    for _ in range(n_kv):
        key = cur.string()
        vtype = GGUFValueType(cur.unpack("<I"))
        meta[key] = _value(cur, vtype, key)
    tensors = []
    for _ in range(n_tensors):
        name = cur.string()
        n_dims = cur.unpack("<I")
        count = 1
        for _d in range(n_dims):
            count *= cur.unpack("<Q")
        ttype = cur.unpack("<I")
        cur.unpack("<Q")  # data offset
        tensors.append((name, count, ttype))
    return meta, tensors


def _value(cur: _Cursor, vtype: GGUFValueType, key: str) -> Any:
    if vtype == GGUFValueType.STRING:
        return cur.string()
    if vtype != GGUFValueType.ARRAY:
        return cur.unpack(_SCALAR[vtype])
    etype = GGUFValueType(cur.unpack("<I"))
    count = cur.unpack("<Q")
    keep = count <= KEEP_ARRAY
    if etype == GGUFValueType.STRING and key == "tokenizer.ggml.tokens":
        start = cur.pos
        for _ in range(count):
            cur.skip_string()
        return _Tokens(cur.buf, start, count)
    if etype == GGUFValueType.STRING:
        if keep:
            return [cur.string() for _ in range(count)]
        for _ in range(count):
            cur.skip_string()
        return None
    if etype == GGUFValueType.ARRAY:  # nested arrays: none of the keys we read use them
        for _ in range(count):
            _value(cur, GGUFValueType.ARRAY, "")
        return None
    fmt = _SCALAR[etype]
    width = struct.calcsize(fmt)
    if keep:
        values = list(struct.unpack_from("<" + fmt[1:] * count, cur.buf, cur.pos))
        cur.pos += width * count
        return values
    cur.pos += width * count
    return None


# ---- interpreting ------------------------------------------------------------------------------------------
def _info(path: Path, size: int, meta: dict[str, Any], tensors: list[tuple[str, int, int]]) -> ModelInfo:
    arch = str(meta.get("general.architecture", ""))
    params = sum(count for _name, count, _t in tensors)
    tokens = meta.pop("tokenizer.ggml.tokens", None)
    ids = {role: meta.get(key) for role, key in TOKEN_KEYS.items()}
    texts = tokens.pick([i for i in ids.values() if isinstance(i, int)]) if isinstance(tokens, _Tokens) else {}
    special = {role: texts.get(tid, "") if isinstance(tid, int) else "" for role, tid in ids.items()}
    return ModelInfo(
        path=str(path),
        name=str(meta.get("general.name", "")) or path.stem,
        architecture=arch,
        parameters=params,
        size_label=str(meta.get("general.size_label", "")) or params_label(params),
        quantisation=quantisation(meta.get("general.file_type"), tensors),
        size_bytes=size,
        context_length=int(meta.get(f"{arch}.context_length", 0) or 0),
        chat_template=str(meta.get("tokenizer.chat_template", "") or ""),
        bos_token=special["bos"],
        eos_token=special["eos"],
        eot_token=special["eot"],
        embedding=arch in EMBEDDING_ARCHS or f"{arch}.pooling_type" in meta,
    )


def quantisation(file_type: Any, tensors: list[tuple[str, int, int]]) -> str:
    """"Q4_K_M" from ``general.file_type``; without it, the type holding most weights."""
    if isinstance(file_type, int):
        try:
            name = LlamaFileType(file_type).name
        except ValueError:
            name = ""
        if name and name != "GUESSED":
            return name.removeprefix("MOSTLY_").removeprefix("ALL_")
    weights: dict[int, int] = {}
    for _name, count, ttype in tensors:
        weights[ttype] = weights.get(ttype, 0) + count
    if not weights:
        return ""
    top = max(weights, key=lambda t: weights[t])
    try:
        return GGMLQuantizationType(top).name
    except ValueError:
        return f"type {top}"


def params_label(n: int) -> str:
    """135_000_000 -> "135M", 1_540_000_000 -> "1.5B"."""
    if n <= 0:
        return ""
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            value = n / scale
            return (f"{value:.1f}".rstrip("0").rstrip(".") if value < 10 else f"{value:.0f}") + unit
    return str(n)


def human_size(n: int) -> str:
    """Bytes for people: "98 MB", "1.1 GB"."""
    if n >= 1e9:
        return f"{n / 1e9:.1f} GB"
    if n >= 1e6:
        return f"{n / 1e6:.0f} MB"
    if n >= 1e3:
        return f"{n / 1e3:.0f} kB"
    return f"{n} B"
