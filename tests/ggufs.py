"""Small real GGUF files for the model-manager tests, written with the ``gguf`` package's GGUFWriter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gguf import GGUFReader, GGUFValueType, GGUFWriter, Keys, LlamaFileType

CHATML = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
# Gemma 3's template (shortened: no images), which llama-cpp-python's guesser does not know.
GEMMA3 = ("{{ bos_token }}{%- if messages[0]['role'] == 'system' -%}{%- set first_user_prefix = "
          "messages[0]['content'] + '\n\n' -%}{%- set loop_messages = messages[1:] -%}{%- else -%}"
          "{%- set first_user_prefix = \"\" -%}{%- set loop_messages = messages -%}{%- endif -%}"
          "{%- for message in loop_messages -%}{%- if message['role'] == 'assistant' -%}{%- set role = \"model\" -%}"
          "{%- else -%}{%- set role = message['role'] -%}{%- endif -%}"
          "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else \"\") }}"
          "{{ message['content'] | trim }}{{ '<end_of_turn>\n' }}{%- endfor -%}"
          "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}")


def write_gguf(path: Path, *, arch: str = "llama", name: str = "Tiny Test", context: int = 4096,
               file_type: int | None = int(LlamaFileType.MOSTLY_Q4_K_M), template: str | None = CHATML,
               shapes: tuple[tuple[int, ...], ...] = ((64, 32), (32,)), tokens: int = 16,
               extra: dict[str, object] | None = None) -> Path:
    """A valid GGUF with the given header facts and float16 tensors of the given shapes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w = GGUFWriter(str(path), arch)
    w.add_name(name)
    w.add_context_length(context)
    if file_type is not None:
        w.add_file_type(file_type)
    w.add_tokenizer_model("gpt2")
    vocab = ["<s>", "</s>"] + [f"t{i}" for i in range(tokens - 2)]
    w.add_token_list(vocab)
    w.add_bos_token_id(0)
    w.add_eos_token_id(1)
    if template is not None:
        w.add_chat_template(template)
    for key, value in (extra or {}).items():
        w.add_key_value(key, value, GGUFValueType.get_type(value))
    for i, shape in enumerate(shapes):
        w.add_tensor(f"blk.{i}.weight", np.zeros(shape, dtype=np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def copy_with_template(src: Path, dst: Path, template: str, name: str | None = None) -> Path:
    """``src`` with a new ``tokenizer.chat_template`` (the logic of gguf's gguf-new-metadata script)."""
    reader = GGUFReader(str(src))
    arch = reader.fields[Keys.General.ARCHITECTURE].contents()
    writer = GGUFWriter(str(dst), arch=arch, endianess=reader.endianess)
    for field in reader.fields.values():
        if field.name == Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        if field.name.startswith(Keys.Tokenizer.CHAT_TEMPLATE):
            continue
        value = field.contents()
        if field.name == Keys.General.NAME and name:
            value = name
        vtype = field.types[0]
        sub = field.types[-1] if vtype == GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, value, vtype, sub_type=sub)
    writer.add_chat_template(template)
    for tensor in reader.tensors:
        writer.add_tensor_info(tensor.name, tensor.data.shape, tensor.data.dtype, tensor.data.nbytes,
                               tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for tensor in reader.tensors:
        writer.write_tensor_data(tensor.data, tensor_endianess=reader.endianess)
    writer.close()
    return dst
