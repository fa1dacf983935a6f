#!/usr/bin/python3
"""PyTorch 1.13 reference for test/bench/train.sh: the same model
(open_clip's architecture, as in test/fixtures/gen_model_fixtures.py), the
same batch (random images, captions of 6..20 tokens padded to the context
length, as open_clip feeds them) and the same step (InfoNCE, backward,
gradient clipping, AdamW).  Prints the best pairs per second.

usage: train_torch.py PRESET BATCH THREADS STEPS [dense] [pd=P]
pd=P: patch dropout P, as open_clip's PatchDropout (after the positional
embedding, the class token kept, max(1, int(n (1 - P))) patches by the
top-k of random scores).
"""
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from gen_model_fixtures import CLIP  # noqa: E402

PRESETS = {
    "tiny": dict(image_size=64, patch_size=8, vision_width=256, vision_layers=6, vision_heads=4,
                 context_length=32, vocab_size=16384, text_width=256, text_layers=6, text_heads=4,
                 embed_dim=256, sparse_dim=8192, activation="gelu"),
}


def visual_with_patch_dropout(visual, prob):
    """open_clip's VisionTransformer.forward with PatchDropout (training)."""
    def forward(img):
        x = visual.conv1(img)
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
        cls = visual.class_embedding.expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + visual.positional_embedding
        cls, x = x[:, :1], x[:, 1:]
        keep = max(1, int(x.shape[1] * (1 - prob)))
        idx = torch.randn(x.shape[0], x.shape[1]).topk(keep, dim=-1).indices
        x = x[torch.arange(x.shape[0])[:, None], idx]
        x = torch.cat([cls, x], dim=1)
        x = visual.ln_pre(x)
        x = visual.transformer(x)
        return visual.ln_post(x[:, 0]) @ visual.proj
    return forward


def main():
    preset, B, threads, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    cfg = dict(PRESETS[preset])
    pd = 0.0
    for mode in sys.argv[5:]:
        if mode == "dense":
            cfg["sparse_dim"] = 0
        elif mode.startswith("pd="):
            pd = float(mode[3:])
        else:
            sys.exit("train_torch.py: unknown mode " + mode)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = CLIP(cfg)
    if pd > 0:
        model.visual.forward = visual_with_patch_dropout(model.visual, pd)
    S, L, V = cfg["image_size"], cfg["context_length"], cfg["vocab_size"]
    images = torch.rand(B, 3, S, S) * 2 - 1
    ids = torch.zeros(B, L, dtype=torch.long)
    for i in range(B):
        n = 6 + i % 15
        ids[i, 0] = V - 2
        for k in range(1, n - 1):
            ids[i, k] = (i * 131 + k * 7919) % (V - 2)
        ids[i, n - 1] = V - 1
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    rest = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.2}, {"params": rest, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.98), eps=1e-6)
    labels = torch.arange(B)
    best = 0.0
    for s in range(steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        img = model.encode_image(images)
        txt = model.encode_text(ids)
        logits = model.logit_scale.exp() * img @ txt.t()
        loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(50))
        dt = time.perf_counter() - t0
        if s > 0:
            best = max(best, B / dt)
    print("%.2f" % best)


if __name__ == "__main__":
    main()
