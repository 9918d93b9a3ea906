"""Regenerate tables/phrase_embeddings.npz: every lexicon phrase embedded once with the bundled model.

    python -m memory_nodes.vocab.build_table

The table lets exact, synonym and similarity look-ups between known phrases run without loading torch.
Vectors are per phrase, so a stale table is still correct; phrases it lacks fall back to the model.
"""
from __future__ import annotations

import sys

import numpy as np

from .embedding import MODEL_NAME, TABLE_PATH, SentenceEmbedder
from .vocabulary import Vocabulary


def main() -> int:
    vocab = Vocabulary()
    phrases = vocab.all_phrases()
    vecs = SentenceEmbedder(table_path=None).embed(phrases)
    TABLE_PATH.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(TABLE_PATH, model=np.array(MODEL_NAME), phrases=np.array(phrases),
                        vectors=vecs.astype(np.float16))
    sys.stdout.write(f"wrote {len(phrases)} phrases to {TABLE_PATH}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
