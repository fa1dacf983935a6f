#!/usr/bin/python3
"""Seed corpus of fuzz_model (test/fuzz/fuzz_model.c): tiny but complete
Sparse-CLIP model files (doc/model-format.md), a few kB each, so that every
mutation still reaches the whole loader (safetensors header, JSON config,
tensor names, dtypes and shapes) and a loaded model encodes cheaply.  The
test fixtures (test/fixtures/model, up to 330 kB) made each execution cost a
few milliseconds in copying and page faults, nearly all of it in weight
bytes no check looks at beyond finiteness.

    /usr/bin/python3 test/fuzz/model_seeds.py [DIR]   (default test/fuzz/seeds/model)

Weights are a fixed pattern, not trained: the fuzzer looks for faults, not
answers.  Layout as test/fixtures/gen_model_fixtures.py writes it.
"""
import json
import math
import os
import struct
import sys

BPE = "#version: 0.2\nh e\nl l\nhe ll\n"


def params(c):
    """(name, shape) in the order of sc_param_list (src/core/model.c)."""
    vw, tw, e, p = c["vision_width"], c["text_width"], c["embed_dim"], c["patch_size"]
    g = c["image_size"] // p
    out = [("visual.conv1.weight", [vw, 3, p, p]), ("visual.class_embedding", [vw]),
           ("visual.positional_embedding", [g * g + 1, vw]),
           ("visual.ln_pre.weight", [vw]), ("visual.ln_pre.bias", [vw])]

    def blocks(prefix, layers, w):
        for l in range(layers):
            b = "%stransformer.resblocks.%d." % (prefix, l)
            out.extend([(b + "ln_1.weight", [w]), (b + "ln_1.bias", [w]),
                        (b + "attn.in_proj_weight", [3 * w, w]), (b + "attn.in_proj_bias", [3 * w]),
                        (b + "attn.out_proj.weight", [w, w]), (b + "attn.out_proj.bias", [w]),
                        (b + "ln_2.weight", [w]), (b + "ln_2.bias", [w]),
                        (b + "mlp.c_fc.weight", [4 * w, w]), (b + "mlp.c_fc.bias", [4 * w]),
                        (b + "mlp.c_proj.weight", [w, 4 * w]), (b + "mlp.c_proj.bias", [w])])

    blocks("visual.", c["vision_layers"], vw)
    out += [("visual.ln_post.weight", [vw]), ("visual.ln_post.bias", [vw]), ("visual.proj", [vw, e]),
            ("token_embedding.weight", [c["vocab_size"], tw]),
            ("positional_embedding", [c["context_length"], tw])]
    blocks("", c["text_layers"], tw)
    out += [("ln_final.weight", [tw]), ("ln_final.bias", [tw]), ("text_projection", [tw, e]),
            ("logit_scale", [])]
    if c["sparse_dim"] > 0:
        out += [("sparse.visual.weight", [c["sparse_dim"], e]), ("sparse.text.weight", [c["sparse_dim"], e])]
    return out


def encode(values, dtype):
    if dtype == "F32":
        return struct.pack("<%df" % len(values), *values)
    if dtype == "F16":
        return struct.pack("<%de" % len(values), *values)
    # BF16: the high half of the F32 bits
    return b"".join(struct.pack("<I", struct.unpack("<I", struct.pack("<f", v))[0])[2:] for v in values)


def write(path, c, dtype, concepts=None):
    meta = {"sparseclip.config": json.dumps(c), "sparseclip.bpe": BPE}
    if concepts:
        meta["sparseclip.concepts"] = json.dumps(concepts)
    header = {"__metadata__": meta}
    blobs, off, k = [], 0, 0
    for name, shape in params(c):
        n = math.prod(shape)
        vals = [0.25 * math.sin(0.7 * (k + i)) for i in range(n)]
        if name.endswith(("ln_1.weight", "ln_2.weight", "ln_pre.weight", "ln_post.weight", "ln_final.weight")):
            vals = [1.0] * n
        k += n
        b = encode(vals, dtype)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "model")
    os.makedirs(out, exist_ok=True)
    base = dict(image_size=8, patch_size=4, vision_width=4, vision_layers=1, vision_heads=1,
                context_length=3, vocab_size=8, text_width=4, text_layers=1, text_heads=1,
                embed_dim=4, sparse_dim=0, activation="gelu",
                image_mean=[0.48145466, 0.4578275, 0.40821073], image_std=[0.26862954, 0.26130258, 0.27577711])
    write(os.path.join(out, "dense_f32"), base, "F32")
    write(os.path.join(out, "sparse_f16"), dict(base, sparse_dim=6, activation="quick_gelu"), "F16",
          ["concept %d" % i for i in range(6)])
    write(os.path.join(out, "two_layers_bf16"), dict(base, vision_layers=2, text_layers=2, vision_heads=2,
                                                     text_heads=2, sparse_dim=3), "BF16")


if __name__ == "__main__":
    main()
