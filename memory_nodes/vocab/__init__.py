"""vocab core (no rclpy): the one module that owns names.

    from memory_nodes.vocab import default_vocabulary
    v = default_vocabulary()
    v.resolve_class("coffee cups")      # ("mug", 1.0), no model needed
    v.canonical("Coffee_Mug")           # "mug"; any unknown class string is its own canonical name
    v.similar("mug", "bowl")            # cosine of canonical names' embeddings (shipped table, or model)
    v.resolve_room("lounge")            # ("living room", 1.0)
"""
from .embedding import EMBEDDING_DIM, MODEL_NAME, SentenceEmbedder, load_bundled_model
from .lexicon import CATEGORIES, CLASS_ENTRIES, ROOM_ENTRIES, UNKNOWN_ROOM, ClassEntry, room_priors
from .vocabulary import VocabConfig, Vocabulary, default_vocabulary, normalize_text, singular_candidates

__all__ = ["EMBEDDING_DIM", "MODEL_NAME", "SentenceEmbedder", "load_bundled_model", "CATEGORIES",
           "CLASS_ENTRIES", "ROOM_ENTRIES", "UNKNOWN_ROOM", "ClassEntry", "room_priors", "VocabConfig",
           "Vocabulary", "default_vocabulary", "normalize_text", "singular_candidates"]
