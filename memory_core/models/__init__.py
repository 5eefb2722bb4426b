"""The models: llama.cpp (``llm``), sentence embeddings (``embeddings``, ``onnx_minilm``), and the model
manager: GGUF models on this machine (found, read from their headers) and downloads.

``list_local_models`` finds them, ``read_gguf_info`` reads one header, ``download_model`` fetches a
``RECOMMENDED`` model (or any GGUF on the hub) into the data directory's ``models/`` folder.
"""

from .download import RECOMMENDED, DownloadCancelled, Recommended, RemoteFile, download_model, remote_file
from .gguf_info import ModelInfo, human_size, read_gguf_info
from .locate import list_local_models, models_dir

__all__ = ["RECOMMENDED", "DownloadCancelled", "ModelInfo", "Recommended", "RemoteFile", "download_model",
           "human_size", "list_local_models", "models_dir", "read_gguf_info", "remote_file"]
