"""First-draft torch models for the name audit: hand-written nanoGPT blocks, torch's own
LSTM/GRU/attention/transformer layers, layers kept in a plain list."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
F64 = torch.float64


class LayerNorm(nn.Module):
    """nanoGPT's LayerNorm with an optional bias: forward ends in return F.layer_norm."""

    def __init__(self, ndim, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, input):
        return F.layer_norm(input, self.weight.shape, self.weight, self.bias, 1e-5)


class NewGELU(nn.Module):
    """minGPT's GELU: forward ends in a returned expression."""

    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd, n_head, block_size):
        super().__init__()
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.n_head, self.n_embd = n_head, n_embd
        self.register_buffer("bias", torch.tril(torch.ones(block_size, block_size))
                             .view(1, 1, block_size, block_size))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = att @ v
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        y = self.c_proj(y)
        return y


class MLP(nn.Module):
    def __init__(self, n_embd):
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd)
        self.act = NewGELU()
        self.c_proj = nn.Linear(4 * n_embd, n_embd)

    def forward(self, x):
        return self.c_proj(self.act(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, n_embd=8, n_head=2, block_size=4):
        super().__init__()
        self.ln_1 = LayerNorm(n_embd, bias=True)
        self.attn = CausalSelfAttention(n_embd, n_head, block_size)
        self.ln_2 = LayerNorm(n_embd, bias=True)
        self.mlp = MLP(n_embd)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class TinyGPT(nn.Module):
    def __init__(self, vocab=7, n_embd=8, block_size=4):
        super().__init__()
        self.wte = nn.Embedding(vocab, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.h = nn.ModuleList([Block(n_embd, 2, block_size)])
        self.ln_f = LayerNorm(n_embd, bias=True)
        self.lm_head = nn.Linear(n_embd, vocab, bias=False)

    def forward(self, idx, targets):
        b, t = idx.size()
        pos = torch.arange(0, t, dtype=torch.long)
        tok_emb = self.wte(idx)
        pos_emb = self.wpe(pos)
        x = tok_emb + pos_emb
        for block in self.h:
            x = block(x)
        x = self.ln_f(x)
        logits = self.lm_head(x)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1),
                               ignore_index=-1)
        return loss


class LSTMNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 4, batch_first=True)
        self.head = nn.Linear(4, 1)

    def forward(self, x, y):
        out, (h_n, c_n) = self.lstm(x)
        pred = self.head(out[:, -1])
        return F.mse_loss(pred, y) + (h_n * c_n).mean()


class GRUNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(3, 4)
        self.head = nn.Linear(4, 1)

    def forward(self, x):
        out, h_n = self.gru(x)
        return self.head(h_n).pow(2).sum() + out.mean()


class AttnNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(4, 2, batch_first=True)
        self.ff = nn.Linear(4, 4)

    def forward(self, x):
        a, _ = self.attn(x, x, x)
        h = F.gelu(self.ff(a))
        return h.pow(2).mean()


class EncoderNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, dropout=0.0,
                                              batch_first=True)

    def forward(self, x):
        return self.enc(x).pow(2).mean()


class PlainList(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = [nn.Linear(3, 4, dtype=F64), nn.Linear(4, 2, dtype=F64)]  # no ModuleList

    def forward(self, x):
        for layer in self.layers:
            x = torch.tanh(layer(x))
        return x.sum()


def _d(m):
    return m.double()


def torch_models():
    """(name, callable, args) of every realistic torch model, in float64."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 4, 3, generator=g, dtype=F64)
    idx = torch.randint(0, 7, (2, 4), generator=g)
    targets = torch.randint(0, 7, (2, 4), generator=g)
    return [
        ("tiny_gpt", _d(TinyGPT()), (idx, targets)),
        ("block", lambda block, x: block(x).pow(2).mean(), (_d(Block()),
                                                            torch.randn(1, 4, 8, dtype=F64))),
        ("lstm", _d(LSTMNet()), (x, torch.zeros(2, 1, dtype=F64))),
        ("gru", _d(GRUNet()), (x,)),
        ("mha", _d(AttnNet()), (torch.randn(2, 3, 4, dtype=F64),)),
        ("encoder", _d(EncoderNet()).eval(), (torch.randn(2, 3, 4, dtype=F64),)),
        ("plain_list", _d(PlainList()), (x,)),
    ]
