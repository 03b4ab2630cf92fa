"""The LLM layer: backends behind one small interface, code extraction, and prompts.

Nothing here imports ``openai``, ``xllamacpp``, ``torch`` or ``transformers`` until a backend
that needs it is used.
"""

from ._active import describe_backend, get_backend, llm_available, set_backend
from ._extract import Extraction, extract_code
from ._local import LocalModel, default_local_model
from ._model_files import DEFAULT_MODEL, MODELS, ModelSpec, cache_dir, ensure_model
from ._openai import OpenAIBackend
from ._prompts import (
    FailingCase,
    Feedback,
    Inspiration,
    ReasoningPath,
    default_paths,
    multipath_messages,
    parse_paths,
    path_code_messages,
    refine_messages,
)
from ._replay import RecordingBackend, ReplayBackend, load_exchanges, save_exchanges
from ._transformers import TransformersBackend
from ._types import (
    Backend,
    Completion,
    Exchange,
    LLMCancelled,
    Message,
    Request,
    Usage,
    image_part,
    text_part,
)

__all__ = [
    "describe_backend",
    "get_backend",
    "llm_available",
    "set_backend",
    "DEFAULT_MODEL",
    "MODELS",
    "Backend",
    "Completion",
    "Exchange",
    "Extraction",
    "FailingCase",
    "Feedback",
    "Inspiration",
    "LLMCancelled",
    "LocalModel",
    "Message",
    "ModelSpec",
    "OpenAIBackend",
    "ReasoningPath",
    "RecordingBackend",
    "ReplayBackend",
    "Request",
    "TransformersBackend",
    "Usage",
    "cache_dir",
    "default_local_model",
    "default_paths",
    "ensure_model",
    "extract_code",
    "image_part",
    "load_exchanges",
    "multipath_messages",
    "parse_paths",
    "path_code_messages",
    "refine_messages",
    "save_exchanges",
    "text_part",
]
