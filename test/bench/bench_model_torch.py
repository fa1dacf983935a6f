#!/usr/bin/python3
"""PyTorch 1.13 side of test/bench/model.sh: the same architecture (the
plain-torch reference of test/fixtures/gen_model_fixtures.py), random
weights, same inputs sizes; prints lines in bench_model.c's format.

    bench_model_torch.py PRESET THREADS [SECONDS]
"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from gen_model_fixtures import CLIP  # noqa: E402

PRESETS = {
    "tiny": dict(image_size=64, patch_size=8, vision_width=256, vision_layers=6, vision_heads=4,
                 context_length=32, vocab_size=16384, text_width=256, text_layers=6, text_heads=4,
                 embed_dim=256, sparse_dim=8192, activation="gelu"),
    "ViT-B/32": dict(image_size=224, patch_size=32, vision_width=768, vision_layers=12, vision_heads=12,
                     context_length=77, vocab_size=49408, text_width=512, text_layers=12, text_heads=8,
                     embed_dim=512, sparse_dim=16384, activation="quick_gelu"),
}


def rate(fn, n, seconds):
    """Best of 4 windows of seconds/4, as bench_model.c measures."""
    fn()
    best = 0.0
    for _ in range(4):
        reps, t0 = 0, time.perf_counter()
        while True:
            fn()
            reps += 1
            t = time.perf_counter() - t0
            if t >= seconds / 4:
                break
        best = max(best, n * reps / t)
    return best


def main():
    preset, threads = sys.argv[1], int(sys.argv[2])
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
    torch.set_num_threads(threads)
    c = PRESETS[preset]
    model = CLIP(c).eval()
    S, V = c["image_size"], c["vocab_size"]
    # texts of 16 real tokens, run unpadded (causal mask of 16)
    L = 16
    mask = torch.full((L, L), float("-inf")).triu(1)
    with torch.inference_mode():
        for b in (1, 32):
            img = torch.randn(b, 3, S, S)
            print("image_b%d %.2f" % (b, rate(lambda: model.encode_image(img), b, seconds)), flush=True)
        for b in (1, 32):
            ids = torch.randint(0, V - 2, (b, L))
            ids[:, 0] = V - 2
            ids[:, -1] = V - 1

            def enc():
                x = model.token_embedding(ids) + model.positional_embedding[:L]
                x = model.transformer(x, mask)
                x = model.ln_final(x)
                y = x[torch.arange(b), ids.argmax(dim=-1)] @ model.text_projection
                return model.head(y, model.sparse.text.weight)
            print("text_b%d %.2f" % (b, rate(enc, b, seconds)), flush=True)


if __name__ == "__main__":
    main()
