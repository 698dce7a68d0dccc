"""Tiny random-weight language models, made offline: for tests, benchmarks and trying the tools without a download.

:func:`make_tiny_model` saves a causal language model of a real architecture (GPT-2,
GPT-NeoX/Pythia, Llama, Qwen2, Gemma) with a few narrow blocks and random weights, plus a
byte-level BPE tokenizer trained on a few sentences with the ``tokenizers`` library, into a
folder with ``save_pretrained``. :func:`probing.models.load_model` then loads it through
the same code as a real checkpoint.
"""

from __future__ import annotations

from pathlib import Path

from probing.errors import ProbingInputError

FAMILIES = ("gpt2", "gpt_neox", "llama", "qwen2", "gemma")
CORPUS = [
    "The cat sat on the mat.", "The dog ran in the park.", "A good film with great acting.",
    "A bad film with an awful plot.", "She said that the movie was wonderful.", "He thought the food was terrible.",
    "Paris is the capital of France.", "The weather today is sunny and warm.", "I love this song so much.",
    "This is the worst day ever.",
]


def train_tokenizer(folder: Path, vocab_size: int = 300):
    """A byte-level BPE tokenizer trained on :data:`CORPUS`, saved to ``folder`` as a fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<|endoftext|>",
                                   eos_token="<|endoftext|>", unk_token="<|endoftext|>", pad_token="<|endoftext|>")
    fast.save_pretrained(folder)
    return fast


def make_tiny_model(folder, family: str = "gpt2", n_blocks: int = 3, width: int = 32, seed: int = 0) -> Path:
    """Save a tiny random-weight causal LM of ``family`` with its tokenizer into ``folder``.

    Parameters
    ----------
    folder : str or Path
        Created if missing.
    family : {"gpt2", "gpt_neox", "llama", "qwen2", "gemma"}
    n_blocks, width : int
        Number of transformer blocks and hidden size (a multiple of 8).
    seed : int
        Seeds the random weights.

    Returns
    -------
    Path
        The folder, ready for :func:`probing.models.load_model`.
    """
    import torch
    from transformers import (AutoModelForCausalLM, GemmaConfig, GPT2Config, GPTNeoXConfig, LlamaConfig,
                              Qwen2Config)

    if family not in FAMILIES:
        raise ProbingInputError(f"Unknown family {family!r}; choose one of {FAMILIES}.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(folder)
    vocab, heads = len(tokenizer), 4
    common = {"vocab_size": vocab, "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
              "pad_token_id": tokenizer.pad_token_id}
    llama_like = {"hidden_size": width, "intermediate_size": 2 * width, "num_hidden_layers": n_blocks,
                  "num_attention_heads": heads, "num_key_value_heads": heads // 2, "max_position_embeddings": 128,
                  **common}
    config = {
        "gpt2": lambda: GPT2Config(n_embd=width, n_layer=n_blocks, n_head=heads, n_positions=128, **common),
        "gpt_neox": lambda: GPTNeoXConfig(hidden_size=width, intermediate_size=2 * width, num_hidden_layers=n_blocks,
                                          num_attention_heads=heads, max_position_embeddings=128, **common),
        "llama": lambda: LlamaConfig(**llama_like),
        "qwen2": lambda: Qwen2Config(**llama_like),
        "gemma": lambda: GemmaConfig(**llama_like, head_dim=width // heads),
    }[family]()
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.save_pretrained(folder)
    return folder
