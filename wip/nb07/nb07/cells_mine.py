"""The cells of notebook 07, in order (07.1, 07.2 and 07.6 come from helper B's part 1)."""


def build(e):
    md, code, mentor, discuss, exercise, P1 = (e["md"], e["code"], e["mentor"], e["discuss"], e["exercise"],
                                                e["P1"])

    md(r'''
# 07 · Attention

A transformer moves information between positions with **attention**: every position asks a question
(its *query*), every position offers an answer to be found by (its *key*) and something to give (its
*value*), and each position takes a weighted mix of the values whose keys match its query. This notebook
builds attention from scratch, then opens a small transformer that the course trains in seconds, and
finds in it the first circuit that interpretability research understood end to end: the **induction
head**, which lets a model continue a sequence it has seen before. Every method comes with the way it
misleads; the last section shows a head that attends sharply and does nothing at all.

**Learning objectives.** You will learn to
- write scaled dot-product attention with a causal mask, and multi-head attention, and match PyTorch's to the last digit;
- rebuild one attention layer of the course's transformer with TransformerLens-style hook points, and read any of its activations by name;
- train a two-layer attention-only transformer that learns induction within seconds, see the phase change in its loss, and see why one layer cannot;
- read attention patterns as heatmaps, score every head as a previous-token or an induction head, and name the heads of a trained model;
- compute attention rollout, and say why attention weights are not explanations.

**Prerequisites:** notebook 04 (forward hooks, `run_with_cache`, leaving no hook behind), notebook 03
(softmax, cross-entropy, training loops), notebook 01 (dot products as similarity, matrix products);
`nn.Module`, `torch.einsum` helps (each section shows the calls it needs).

**Estimated time:** about 2 h 30: 6 exercises (15 points, about 2 hours), 2 discussion questions
(2 points), and the figures. The two trainings take a few seconds each on a laptop CPU.

> **🧑‍🤝‍🧑 Working in pairs.** The *driver* types. The *navigator* reads the exercise aloud, predicts
> the result before the cell runs (a shape, a number, which head will light up) and compares it with
> what appears. Switch roles at every 🔄. Past an exercise's time budget, open the hints one at a time;
> past twice the budget, ask a mentor (or note where you are stuck) and move on.

**How checks behave.** The cell under each exercise runs its check: `✔ … passed`, or a message that says
what was tried, what was expected and a hint. *Run All* stops at the first exercise that is not solved
yet: solve it (or skip it by running the cells below it one by one) and go on.
''')

    code(r'''
import math
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from mi_helpers import plot
from mi_helpers.circuits import hand_built_induction_model, repeated_pairs
from mi_helpers.hooks import HookPoint, count_hooks, hooks, run_with_cache
from mi_helpers.transformer import (AttnOnlyTransformer, TransformerConfig, load_induction_model,
                                    repeat_accuracy, repeated_sequences, train_induction)
from mi_helpers.utils import get_device, limit_threads, seed_everything

limit_threads(2)   # the course's machines have two cores
seed_everything(0)
torch.set_printoptions(precision=3, sci_mode=False)
device = get_device()   # the CPU here; the code runs unchanged on a GPU
''', tags=["setup"])

    mentor(r'''
**Mentor notes: the session (about 2 h 30).** 25 min attention (07.1) · 25 min heads (07.2) · 15 min the
course's transformer and its hook points · 30 min 07.3 · 10 min training and the phase change ·
10 min patterns (discussion 1) · 25 min scores (07.4) and naming (07.5) · 15 min rollout (07.6) · 10 min
"attention is not explanation" (discussion 2) · 5 min wrap-up.

The thread through the session: attention patterns are the most *seductive* picture in interpretability.
They are real numbers the model computes, and they say where a head reads, not what it does with what it
reads. Keep asking "how would you know this head matters?" and let notebook 08 answer.
''')

    md(r'''
## 1 · Attention, one query at a time

Take a sequence of $n$ positions, each a vector. Three linear maps turn each position into a **query**
$q_i$, a **key** $k_j$ and a **value** $v_j$. Position $i$ scores every position $j$ by how well its query
matches that key, $q_i \cdot k_j$, turns the scores into weights that are positive and sum to 1 with a
softmax, and takes the weighted mix of the values:

$$\text{pattern}_{ij} = \mathrm{softmax}_j\!\Big(\frac{q_i\cdot k_j}{\sqrt{d_k}}\Big), \qquad \text{out}_i = \sum_j \text{pattern}_{ij}\, v_j .$$

The **pattern** is a matrix, queries in rows and keys in columns: row $i$ says where position $i$ reads.
Dividing by $\sqrt{d_k}$ keeps the scores' spread independent of the vectors' size (a dot product of $d_k$
random unit-variance numbers has standard deviation $\sqrt{d_k}$), so that the softmax does not saturate.
A language model predicts the next token, so position $i$ must not read the future: a **causal mask**
sets the scores of keys $j > i$ to $-\infty$ before the softmax, which gives them weight exactly 0.

A toy example first: three positions whose keys point in three directions, and a query that matches the
second one.
''')

    code(r'''
k = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])   # 3 keys in 2 dimensions
q = torch.tensor([[0.0, 4.0]])                              # one query, close to key 1
v = torch.tensor([[10.0], [20.0], [30.0]])                 # what each position gives
scores = q @ k.T / math.sqrt(2)
weights = torch.softmax(scores, dim=-1)
print("scores :", scores)
print("pattern:", weights, " (sums to", weights.sum().item(), ")")
print("out    :", weights @ v, " (mostly the value of position 1)")
''')

    exercise("07.1", P1["07.1"])

    md(r'''
The pattern of a causal attention over 8 positions, with random queries and keys. Look for: a lower
triangle (nothing above the diagonal: no position reads the future), a first row that is all on its
diagonal (position 0 can only read itself), and rows that get flatter further down, as each position has
more of the past to spread over.
''')

    code(r'''
g = torch.Generator().manual_seed(0)
q8, k8, v8 = (torch.randn(8, 16, generator=g) for _ in range(3))
_, pattern8 = scaled_dot_product_attention(q8, k8, v8)
plot.heatmap(pattern8, title="causal attention, random queries and keys", xlabel="key position (attended to)",
             ylabel="query position", colorbar_label="attention weight")
plt.show()
''')

    md(r'''
## 2 · Many heads

One attention can look at one kind of thing at a time. **Multi-head attention** runs several smaller
attentions side by side: the model's `d_model` features are projected to queries, keys and values,
split into `n_heads` blocks of `d_head = d_model // n_heads` features, each block attends on its own
(its own pattern), and the heads' outputs are put back side by side and mixed by an output projection.
This is exactly what `nn.MultiheadAttention` computes; writing it yourself shows where each head's
pattern and output live, which is what interpretability needs.

🔄 *Switch driver and navigator.*
''')

    exercise("07.2", P1["07.2"])

    md(r'''
Your module against PyTorch's, with the same weights: the largest differences, which should be at the
level of float32 rounding (around 1e-7), and the four heads' patterns, which look nothing alike even on
random weights: each head has its own queries and keys.
''')

    code(r'''
torch.manual_seed(1)
reference = nn.MultiheadAttention(32, 4, batch_first=True).eval()
mine = MultiHeadAttention(32, 4).eval()
W_q, W_k, W_v = reference.in_proj_weight.detach().chunk(3)
b_q, b_k, b_v = reference.in_proj_bias.detach().chunk(3)
with torch.no_grad():
    for layer, W, b in ((mine.q_proj, W_q, b_q), (mine.k_proj, W_k, b_k), (mine.v_proj, W_v, b_v),
                        (mine.out_proj, reference.out_proj.weight, reference.out_proj.bias)):
        layer.weight.copy_(W)
        layer.bias.copy_(b)
x = torch.randn(2, 6, 32)
causal_mask = torch.ones(6, 6, dtype=torch.bool).triu(1)
with torch.no_grad():
    theirs, their_pattern = reference(x, x, x, attn_mask=causal_mask, average_attn_weights=False)
    ours, our_pattern = mine(x, causal=True)
print("largest difference, output :", (ours - theirs).abs().max().item())
print("largest difference, pattern:", (our_pattern - their_pattern).abs().max().item())
fig, axes = plt.subplots(1, 4, figsize=(13, 3))
for h, ax in enumerate(axes):
    plot.heatmap(our_pattern[0, h], title=f"head {h}", xlabel="key position", ylabel="query position", ax=ax)
plt.tight_layout()
plt.show()
''')

    md(r'''
## 3 · The course's transformer, and its hook points

`mi_helpers.transformer.AttnOnlyTransformer` is a transformer with attention and nothing else: no MLPs, no
LayerNorm. Its **residual stream** starts as the sum of a token embedding and a position embedding; each
layer's heads *read* from it and *add* what they write back to it; the last residual stream is mapped to
logits over the vocabulary, a guess at the next token. With nothing but sums in the residual stream, what
each head contributes stays readable, which is why interpretability starts with models like this
(Elhage et al., *A Mathematical Framework for Transformer Circuits*, 2021).

Every value a method needs has a name, a `HookPoint` (an identity module) that the value passes through,
as in TransformerLens. For layer `l`:

| name | shape | what it is |
| --- | --- | --- |
| `blocks.l.hook_resid_pre` | `[batch, pos, d_model]` | the residual stream entering the layer |
| `blocks.l.attn.hook_q`, `hook_k`, `hook_v` | `[batch, pos, head, d_head]` | each head's queries, keys, values |
| `blocks.l.attn.hook_pattern` | `[batch, head, query_pos, key_pos]` | each head's attention pattern |
| `blocks.l.attn.hook_z` | `[batch, pos, head, d_head]` | each head's mix of values |
| `blocks.l.attn.hook_result` | `[batch, pos, head, d_model]` | what each head writes: `z @ W_O[head]` |
| `blocks.l.hook_resid_post` | `[batch, pos, d_model]` | the residual stream after the layer |

The weights are kept per head: `W_Q[h]` is head `h`'s `[d_model, d_head]` query map. Notebook 04's
`run_with_cache` and `hooks` work on it unchanged, and a hook that returns a tensor replaces the value
(notebook 08 builds ablation and patching on that).
''')

    code(r'''
cfg = TransformerConfig()
print(cfg)
seed_everything(0)
fresh = AttnOnlyTransformer(cfg).to(device)
tokens = torch.randint(0, cfg.d_vocab, (2, 10), device=device)
logits, cache = run_with_cache(fresh, tokens)
for name, value in cache.items():
    if name.startswith("blocks.0") or name in ("hook_embed", "hook_pos_embed"):
        print(f"{name:28} {tuple(value.shape)}")
print("logits:", tuple(logits.shape), " hooks left:", count_hooks(fresh))
''')

    md(CELLS_073_SPEC)
    e["code"](CELLS_073_SOLUTION, nbgrader={"grade": False, "solution": True, "locked": False,
                                             "grade_id": "07_3_AttentionLayer", "schema_version": 3})
    e["code"](CELLS_073_TEST, nbgrader={"grade": True, "solution": False, "locked": True, "points": 3,
                                         "grade_id": "test_07_3_AttentionLayer", "schema_version": 3})
    mentor(r'''
**Mentor note (07.3, 20-30 min).** The einsum strings are where pairs lose time: have the navigator write
each one's shapes on paper first (`"bpm,hmd->bphd"`: batch, position, model in; head, model, d_head
weights; the model index summed away). Common mistakes, each caught at the first hook point that differs:
biases forgotten (`b_Q`, `b_K`, `b_V` are zero at initialisation, but the check loads non-zero ones);
scaling by `sqrt(d_model)`; no mask; `hook_pattern` on the scores rather than after the softmax; heads summed
before `hook_result` (then it has no head axis, and notebook 08 cannot ablate one head); `hook_z` as
`[batch, head, pos, d_head]`. Ask the pair: "Why keep `hook_result` per head, when the model only ever uses
the sum?" (because the sum is linear: each head's share of the output is exactly its result, the basis of
direct logit attribution and of ablating one head).
''')

    md(r'''
Your layer, loaded with the weights of the first layer of the fresh model above, gives the model's own
activations. Every line should print a difference of 0 or close to it.
''')

    code(r'''
layer = AttentionLayer(cfg).to(device)
layer.load_state_dict(fresh.blocks[0].attn.state_dict())
resid = cache["blocks.0.hook_resid_pre"]
_, own = run_with_cache(layer, resid, ["hook_q", "hook_pattern", "hook_z", "hook_result"])
for name, value in own.items():
    print(f"{name:13} largest difference: {(value - cache['blocks.0.attn.' + name]).abs().max().item():.2e}")
''')

    md(r'''
## 4 · A task only two layers can learn: induction

Language is full of repeats: a name, a phrase, a line of code appears, and later appears again. A model
that has seen `… Harry Potter …` can guess that `Harry` will be followed by `Potter` the next time. The
mechanism that does this in transformers is the **induction head** (Olsson et al., *In-context Learning
and Induction Heads*, 2022): at the current token `A`, look back for an earlier `A`, see which token
followed it (`B`), and predict `B`.

The course's task makes this the *only* way to do well. Each sequence is random tokens with a block of
random tokens repeated once, `… x y [A B C D …] [A B C D …] z …`, at a random offset and of a random
length. Inside the first copy and in the filler, the next token is random: nothing predicts it. In the
second copy, every token after the first is predictable, but only by looking back at the first copy:
position alone cannot tell where the copy is. `repeated_sequences` marks those predictable positions.
''')

    code(r'''
batch = repeated_sequences(3, cfg, seed=1)
for row in range(3):
    marks = "".join("^" if r else " " for r in batch.repeated[row].tolist())
    print(" ".join(f"{t:2d}" for t in batch.tokens[row].tolist()))
    print(" ".join(f"{m:>2}" for m in marks), f"  (offset {int(batch.offset[row])}, repeated: ^)")
''')

    md(TRAINING_TEXT)
    code(TRAINING_CODE)
    md(TRAINING_PLOT_TEXT)
    code(TRAINING_PLOT_CODE)
    mentor(r'''
**Mentor note (training).** Two trainings of a few seconds each. If a machine is much slower, set
`TRAIN = False` in the cell above: everything after uses the course's shipped model anyway. The loss
curve is the moment to stop and predict: ask the pair, before the plot appears, what the one-layer loss
will do (it cannot drop below the loss of guessing among the tokens it has seen, because a single layer
cannot combine "which token came before *that* position" with "where is my token"). The plateau then
sudden drop is the phase change of Olsson et al.: the two heads are useless alone, so the gradient has
little to say until both are half-formed.
''')

    md(r'''
## 5 · Looking at attention patterns

From here on, the analysis runs on the **course's trained model**, `load_induction_model()`, a two-layer
model trained exactly as above and shipped with the course with a checksum, so that everyone looks at the
same heads (your own model's induction head may sit at another index: heads have no fixed order). Below,
every head's pattern on one sequence, tokens on both axes. Look for two kinds of stripes: a head whose
weight sits just below the diagonal (each position reads the one before it), and a head in layer 1 whose
weight, in the second copy, sits on a diagonal `length - 1` positions back (each token reads the token
*after* its earlier occurrence).
''')

    code(r'''
model = load_induction_model().to(device)
print("the course's model:", model.cfg)
example = repeated_sequences(1, model.cfg, length=8, seed=3)
_, cache = run_with_cache(model, example.tokens.to(device),
                          [f"blocks.{l}.attn.hook_pattern" for l in range(model.cfg.n_layers)])
labels = [str(t) for t in example.tokens[0].tolist()]
print(f"the repeated block starts at {int(example.offset[0])}, length {example.length}")
for l in range(model.cfg.n_layers):
    plot.attention_patterns(cache[f"blocks.{l}.attn.hook_pattern"][0], tokens=labels, layer=l,
                            title=f"layer {l}: attention of every head on one repeated sequence")
    plt.show()
''')

    md(r'''
### Discussion 07.1 · what a pattern shows

Pick the head of layer 1 that you would call the induction head from the pictures alone. What in its
pattern makes you say so, what would the pattern look like on a sequence with no repeat, and what could
make a head *look* like an induction head on this picture without being one?
''')

    discuss("discuss_07_1", r'''
*Model answer.* In the second copy its weight sits on the diagonal `length - 1` positions back: each
query reads the position right after the earlier occurrence of its own token, which is the token that
should come next. In the first copy and the filler the same head has no earlier occurrence to find, so
its weight is spread out or parked on early positions. One sequence can fool us: a head that attends to
a fixed offset back would line up with the stripe when the offset happens to equal the block's length,
and a head that attends to tokens equal to a certain value could too; a pattern also says nothing about
what the head writes (its values and output weights could be near zero). Scoring over many sequences of
several lengths (next section) removes the first doubts; only an intervention (notebook 08) removes the
last.
''')

    md(CELLS_074_SPEC)
    e["code"](CELLS_074_SOLUTION, nbgrader={"grade": False, "solution": True, "locked": False,
                                             "grade_id": "07_4_head_scores", "schema_version": 3})
    e["code"](CELLS_074_TEST, nbgrader={"grade": True, "solution": False, "locked": True, "points": 3,
                                         "grade_id": "test_07_4_head_scores", "schema_version": 3})
    mentor(r'''
**Mentor note (07.4, 20-25 min).** The indices are the whole exercise. Have the navigator draw a 2L × 2L
grid and mark, for L = 4, the cells `(q, q - 1)` and `(q, q - L + 1)` for the right queries before any code
is written. Common mistakes, each named by the check: the diagonal `(q, q)` for the previous token; the
earlier copy itself `(q, q - L)` for induction (that is a *duplicate-token* head, a different role);
averaging induction over the first copy too; counting position 0 (which has no previous token); the
table transposed; the scores before the softmax. `torch.diagonal(offset=-1, dim1=-2, dim2=-1)` does the
indexing in one call. Ask: "Why does L1H1 of the hand-built model score exactly 1/(2L-1) as a
previous-token head?" (it always attends to position 0, which is the previous token for query 1 only).
''')

    md(r'''
The scores of every head of the course's model, on 200 fresh `A A` sequences. Look for one bright cell
in each heatmap: a previous-token head in layer 0 and an induction head in layer 1.
''')

    code(r'''
pairs = repeated_pairs(200, 10, model.cfg.d_vocab, seed=5).to(device)
previous_scores, induction_scores = head_scores(model, pairs, 10)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
plot.heatmap(previous_scores, title="previous-token score", xlabel="head", ylabel="layer", annotate=True, ax=axes[0])
plot.heatmap(induction_scores, title="induction score", xlabel="head", ylabel="layer", annotate=True, ax=axes[1])
plt.tight_layout()
plt.show()
''')

    md(CELLS_075_SPEC)
    e["code"](CELLS_075_SOLUTION, nbgrader={"grade": False, "solution": True, "locked": False,
                                             "grade_id": "07_5_name_the_heads", "schema_version": 3})
    e["code"](CELLS_075_TEST, nbgrader={"grade": True, "solution": False, "locked": True, "points": 2,
                                         "grade_id": "test_07_5_name_the_heads", "schema_version": 3})

    md(r'''
## 6 · Attention rollout

🔄 *Switch driver and navigator.*
''')

    exercise("07.6", P1["07.6"])

    md(r'''
The rollout of the course's model on the repeated sequence of section 5, next to the raw pattern of its
induction head. Look for: the rollout is smoother than any single head; in the second copy it still leans
to the first copy, but it also spreads weight on the diagonal and on the earliest positions, because it
counts the residual stream and every head equally, whether or not that head matters.
''')

    code(r'''
patterns = [cache[f"blocks.{l}.attn.hook_pattern"] for l in range(model.cfg.n_layers)]
rollout = attention_rollout(patterns)
induction_layer, induction_head = name_the_heads()["induction"][0]
fig, axes = plt.subplots(1, 2, figsize=(12, 5))
plot.heatmap(patterns[induction_layer][0, induction_head], title=f"raw pattern of L{induction_layer}H{induction_head}",
             xlabel="key position", ylabel="query position", ax=axes[0])
plot.heatmap(rollout[0], title="attention rollout, both layers", xlabel="input position", ylabel="output position",
             ax=axes[1])
plt.tight_layout()
plt.show()
''')

    md(NOT_EXPLANATION_TEXT)
    code(NOT_EXPLANATION_CODE)
    md(r'''
### Discussion 07.2 · attention is not explanation

A colleague shows you the heatmap of a head that attends, on every example, to the subject of the
sentence, and writes "this head moves the subject's information to the verb". Using the hand-built model
above, explain what the heatmap shows and what it does not, and describe an experiment that would support
or refute the sentence.
''')

    discuss("discuss_07_2", r'''
*Model answer.* The heatmap shows where the head reads: its pattern, a function of queries and keys only.
It does not show what the head writes: that depends on the values and on the output weights `W_O`, which
the pattern never sees. The hand-built model's decoy heads attend just as sharply as its real ones, and
their output weights are zero: replacing their patterns changes no prediction. To test the claim, intervene:
ablate the head (zero or mean its `hook_z`/`hook_result`) and measure how much the task's loss or the
verb's prediction degrades; or patch its output from a run with another subject and see whether the
prediction follows the subject. Only a change in the output under the intervention supports "moves the
subject's information" (notebook 08).
''')

    mentor(r'''
**Mentor notes: wrap-up (5 min).** Ask each person for the two heads of an induction circuit, which
layer each must be in and why, and for one way an attention picture misleads. Pairs that finished early:
train the two-layer model with `positional="sinusoidal"` (`TransformerConfig(positional="sinusoidal")`)
and compare the phase change; or score the heads of your own trained model and find its induction head
(it may be another head than the course's).
''')


CELLS_MINE = [build]

# ------------------------------------------------------------------ long texts

CELLS_073_SPEC = r'''
🔄 *Switch driver and navigator.*

### Exercise 07.3 · AttentionLayer

Difficulty ●●○ · Importance ●●● · ⏱ 30 min

Write the class `AttentionLayer(cfg)`: one attention layer of the course's transformer, with its hook
points, so that the course's weights load into it and every hooked activation comes out the same.

- `__init__(self, cfg)`: `cfg` is a `TransformerConfig` (`n_heads`, `d_model`, `d_head`). Create exactly these
  parameters (`nn.Parameter`, with these names; any initial values):
  `W_Q`, `W_K`, `W_V` `[n_heads, d_model, d_head]`; `b_Q`, `b_K`, `b_V` `[n_heads, d_head]`;
  `W_O` `[n_heads, d_head, d_model]`; `b_O` `[d_model]`. And six `HookPoint()` modules:
  `hook_q`, `hook_k`, `hook_v`, `hook_pattern`, `hook_z`, `hook_result`.
- `forward(self, resid)`: `resid` is `[batch, pos, d_model]`.
  1. `q = resid @ W_Q[h] + b_Q[h]` for every head at once, `[batch, pos, head, d_head]`, passed through
     `self.hook_q` (`q = self.hook_q(q)`); the same for `k` and `v`;
  2. scores `q · k / sqrt(d_head)` as `[batch, head, query_pos, key_pos]`, the future (key after query) set to
     `-inf`, softmax over the keys: the pattern, through `self.hook_pattern`;
  3. `z`: each head's values mixed by its pattern, `[batch, pos, head, d_head]`, through `self.hook_z`;
  4. each head's result `z[:, :, h] @ W_O[h]`, `[batch, pos, head, d_model]`, through `self.hook_result`;
  5. return the results summed over the heads, plus `b_O`: `[batch, pos, d_model]`.
- Keep the dtype and device of `resid` (make the mask with `device=resid.device`).

Write it yourself: `mi_helpers.transformer.Attention` (the course's own layer, which the check compares
with), `F.scaled_dot_product_attention` and `nn.MultiheadAttention` raise an error while the check runs
your class; please do not read the course's source of `Attention` before you are done. The check builds
your layer for three configurations (one head, a one-token sequence, float64), loads the course's weights
(all biases non-zero) and compares each hook point in the order above: the first one that differs names
your mistake.

<details><summary>Hint 1</summary>

`torch.einsum` names every axis, which keeps four-dimensional shapes straight:
`torch.einsum("bpm,hmd->bphd", resid, self.W_Q)` multiplies over `m` (d_model) for every batch `b`,
position `p` and head `h`. The bias `b_Q` `[head, d_head]` then broadcasts over batch and position.
</details>
<details><summary>Hint 2</summary>

Scores: `torch.einsum("bqhd,bkhd->bhqk", q, k)`. Mixing the values: `torch.einsum("bhqk,bkhd->bqhd", pattern, v)`.
Each head's result: `torch.einsum("bqhd,hdm->bqhm", z, self.W_O)`, summed with `.sum(dim=2)`.
</details>
<details><summary>Hint 3</summary>

The mask is 07.1's: `torch.ones(n, n, dtype=torch.bool, device=resid.device).triu(1)` is True where the key
comes after the query; `scores.masked_fill(mask, float("-inf"))` before `softmax(dim=-1)`. A value passes
through a hook point when you write `x = self.hook_x(x)` and use the returned `x` afterwards.
</details>

**What you should see:** `✔ 07.3 AttentionLayer passed`, then every hooked activation of your layer equal
to the model's own, with the model's weights loaded.
'''

CELLS_073_SOLUTION = r'''
class AttentionLayer(nn.Module):
    """One layer of causal multi-head self-attention of the course's transformer, with hook points.

    Args:
        cfg: a TransformerConfig; uses n_heads, d_model and d_head.

    Parameters: W_Q, W_K, W_V [n_heads, d_model, d_head]; b_Q, b_K, b_V [n_heads, d_head];
    W_O [n_heads, d_head, d_model]; b_O [d_model].
    Hook points: hook_q, hook_k, hook_v [batch, pos, head, d_head]; hook_pattern [batch, head, query_pos, key_pos];
    hook_z [batch, pos, head, d_head]; hook_result [batch, pos, head, d_model].

    forward(resid): [batch, pos, d_model] float -> [batch, pos, d_model], the heads' results summed plus b_O,
    in the dtype and on the device of resid.
    """

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        ### BEGIN SOLUTION
        h, m, d = cfg.n_heads, cfg.d_model, cfg.d_head
        self.W_Q = nn.Parameter(torch.randn(h, m, d) / math.sqrt(m))
        self.W_K = nn.Parameter(torch.randn(h, m, d) / math.sqrt(m))
        self.W_V = nn.Parameter(torch.randn(h, m, d) / math.sqrt(m))
        self.b_Q = nn.Parameter(torch.zeros(h, d))
        self.b_K = nn.Parameter(torch.zeros(h, d))
        self.b_V = nn.Parameter(torch.zeros(h, d))
        self.W_O = nn.Parameter(torch.randn(h, d, m) / math.sqrt(h * d))
        self.b_O = nn.Parameter(torch.zeros(m))
        self.hook_q, self.hook_k, self.hook_v = HookPoint(), HookPoint(), HookPoint()
        self.hook_pattern, self.hook_z, self.hook_result = HookPoint(), HookPoint(), HookPoint()
        ### END SOLUTION

    def forward(self, resid: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        q = self.hook_q(torch.einsum("bpm,hmd->bphd", resid, self.W_Q) + self.b_Q)
        k = self.hook_k(torch.einsum("bpm,hmd->bphd", resid, self.W_K) + self.b_K)
        v = self.hook_v(torch.einsum("bpm,hmd->bphd", resid, self.W_V) + self.b_V)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(q.shape[-1])
        n = resid.shape[1]
        future = torch.ones(n, n, dtype=torch.bool, device=resid.device).triu(1)  # key after query
        pattern = self.hook_pattern(scores.masked_fill(future, float("-inf")).softmax(dim=-1))
        z = self.hook_z(torch.einsum("bhqk,bkhd->bqhd", pattern, v))
        result = self.hook_result(torch.einsum("bqhd,hdm->bqhm", z, self.W_O))  # per head
        return result.sum(dim=2) + self.b_O
        ### END SOLUTION
'''

CELLS_073_TEST = r'''
from mi_helpers.checks.nb07 import check_AttentionLayer
check_AttentionLayer(AttentionLayer)
### BEGIN HIDDEN TESTS
# the course's trained model: its first layer's weights in your class, on its own residual stream
from mi_helpers.checks.core import inside
from mi_helpers.checks.nb07 import load_and_record
_model = load_induction_model()
_batch = repeated_sequences(4, _model.cfg, seed=7301)
_, _cache = run_with_cache(_model, _batch.tokens)
for _l in range(_model.cfg.n_layers):
    _got = inside(load_and_record, AttentionLayer, _model.cfg, _model.blocks[_l].attn.state_dict(),
                  _cache[f"blocks.{_l}.hook_resid_pre"])
    for _name in ("hook_pattern", "hook_z", "hook_result"):
        assert torch.allclose(_got["cache"][_name], _cache[f"blocks.{_l}.attn.{_name}"], atol=1e-5), _name
    assert torch.allclose(_got["output"], _cache[f"blocks.{_l}.hook_attn_out"], atol=1e-5)
### END HIDDEN TESTS
'''

TRAINING_TEXT = r'''
Now train. `train_induction` trains on fresh repeated sequences at every step (a progress bar shows the
loss) and records the loss, and every few steps the accuracy on the repeated tokens of a held-out batch.
We train the two-layer model and a one-layer model with the same settings, for as many steps. Two numbers
to predict before running it: the accuracy of each on the repeated tokens. (If your machine is slow, set
`TRAIN = False`: the cell then loads the course's shipped two-layer model, trained exactly like this, and
says so.)
'''

TRAINING_CODE = r'''
TRAIN = True   # False: load the course's shipped model instead of training (on a slow machine)
held_out = repeated_sequences(500, cfg, seed=12345)
runs = {}
for n_layers in (2, 1):
    seed_everything(2)   # the seed of the course's shipped model
    candidate = AttnOnlyTransformer(TransformerConfig(n_layers=n_layers)).to(device)
    if TRAIN or n_layers == 1:
        started = time.perf_counter()
        history = train_induction(candidate, seed=2, desc=f"{n_layers}-layer")
        seconds = time.perf_counter() - started
    else:
        candidate, history, seconds = load_induction_model().to(device), None, 0.0
    runs[n_layers] = (candidate, history)
    where = "trained here" if history is not None else "loaded: the course's checkpoint"
    print(f"{n_layers} layer(s): repeat accuracy {repeat_accuracy(candidate, held_out):.1%} "
          f"({where}, {seconds:.1f} s)")
assert repeat_accuracy(runs[2][0], held_out) >= 0.9, "two layers should predict ≥ 90 % of the repeated tokens"
assert repeat_accuracy(runs[1][0], held_out) <= 0.2, "one layer should stay near chance on the repeated tokens"
'''

TRAINING_PLOT_TEXT = r'''
The loss curves. Look for the **phase change**: the two-layer loss sits on a plateau, then drops within a
few dozen steps, when the previous-token head and the induction head form together; the one-layer loss
never makes that drop. The lower panel shows the same moment as a jump in the accuracy on the repeated
tokens.
'''

TRAINING_PLOT_CODE = r'''
fig, axes = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
for n_layers, (_, history) in runs.items():
    if history is None:
        continue
    plot.curves(range(1, len(history["loss"]) + 1), {f"{n_layers} layer(s)": history["loss"]}, ax=axes[0],
                title="training loss on repeated sequences", xlabel="step", ylabel="cross-entropy")
    plot.curves(history["eval_steps"], {f"{n_layers} layer(s)": history["accuracy"]}, ax=axes[1],
                title="accuracy on the repeated tokens (held out)", xlabel="step", ylabel="accuracy")
plt.tight_layout()
plt.show()
'''

CELLS_074_SPEC = r'''
🔄 *Switch driver and navigator.*

### Exercise 07.4 · head_scores

Difficulty ●●○ · Importance ●●● · ⏱ 25 min

Pictures of one sequence are anecdotes. Score every head over many sequences instead. Write
`head_scores(model, tokens, length)`:

- `model`: an `AttnOnlyTransformer` (use `len(model.blocks)` layers; the pattern of layer `l` is the hook point
  `f"blocks.{l}.attn.hook_pattern"`, `[batch, head, query_pos, key_pos]`; record it with `run_with_cache`).
- `tokens`: `[batch, 2 * length]` int64: every row is a block of `length` distinct tokens followed by the same
  block again (`repeated_pairs` makes them); `length` ≥ 3.
- Return `(previous, induction)`, each `[n_layers, n_heads]` with the patterns' dtype and device:
  - `previous[l, h]`: the mean, over the batch and over every query position `q ≥ 1`, of the weight that
    head `h` of layer `l` puts on key `q - 1` (the previous token);
  - `induction[l, h]`: the mean, over the batch and over the query positions of the **second copy**
    (`length ≤ q < 2·length`), of the weight on key `q - length + 1`: the position *after* the earlier
    occurrence of the current token, whose token comes next.
- Leave no hook on the model.

The check first runs your function on a model whose weights the course set by hand
(`hand_built_induction_model()`, two layers of two heads: L0H0 a previous-token head, L1H0 an induction
head, L0H1 and L1H1 decoys that attend to the current and to the first position), whose scores are known
exactly, with two block lengths; then in float64 and on PyTorch's `meta` device.

<details><summary>Hint 1</summary>

Stack the layers' patterns: `torch.stack([cache[name] for name in names])` is `[layer, batch, head, query, key]`.
</details>
<details><summary>Hint 2</summary>

`pattern.diagonal(offset=-1, dim1=-2, dim2=-1)` gathers the entries `[q, q - 1]` for `q = 1 … 2L-1`, as a last
axis of length `2L - 1`. With `offset=-(length - 1)` it gathers `[q, q - length + 1]` for
`q = length - 1 … 2L-1`: keep the last `length` of them.
</details>
<details><summary>Hint 3</summary>

Average over the batch axis and the positions axis together: `.mean(dim=(1, 3))` on `[layer, batch, head, positions]`.
</details>

**What you should see:** `✔ 07.4 head_scores passed`, then two heatmaps of the course's model with one
bright cell each.
'''

CELLS_074_SOLUTION = r'''
def head_scores(model: nn.Module, tokens: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Previous-token and induction scores of every head, on sequences of a block repeated once.

    Args:
        model: an AttnOnlyTransformer; layer l's pattern is "blocks.{l}.attn.hook_pattern",
            [batch, head, query_pos, key_pos].
        tokens: [batch, 2 * length] int64, each row a block of `length` distinct tokens, then the block again.
        length: the block's length (>= 3).

    Returns:
        previous, induction: [n_layers, n_heads] each, in the patterns' dtype and device.
        previous[l, h] = mean over batch and queries q >= 1 of pattern[q, q - 1];
        induction[l, h] = mean over batch and queries length <= q < 2 length of pattern[q, q - length + 1].
    """
    ### BEGIN SOLUTION
    names = [f"blocks.{layer}.attn.hook_pattern" for layer in range(len(model.blocks))]
    _, cache = run_with_cache(model, tokens, names)
    pattern = torch.stack([cache[name] for name in names])  # [layer, batch, head, query, key]
    previous = pattern.diagonal(offset=-1, dim1=-2, dim2=-1)  # entries [q, q - 1], q = 1 ... 2L-1
    induction = pattern.diagonal(offset=-(length - 1), dim1=-2, dim2=-1)[..., -length:]  # q = L ... 2L-1
    return previous.mean(dim=(1, 3)), induction.mean(dim=(1, 3))
    ### END SOLUTION
'''

CELLS_074_TEST = r'''
from mi_helpers.checks.nb07 import check_head_scores
check_head_scores(head_scores)
### BEGIN HIDDEN TESTS
# the course's trained model, against a loop over every query written out in full
_model = load_induction_model()
_tokens = repeated_pairs(6, 7, _model.cfg.d_vocab, seed=7401)
_, _cache = run_with_cache(_model, _tokens)
_prev, _ind = head_scores(_model, _tokens, 7)
for _l in range(_model.cfg.n_layers):
    _p = _cache[f"blocks.{_l}.attn.hook_pattern"]
    _want_prev = torch.stack([_p[:, :, _q, _q - 1] for _q in range(1, 14)], dim=-1).mean(dim=(0, 2))
    _want_ind = torch.stack([_p[:, :, _q, _q - 6] for _q in range(7, 14)], dim=-1).mean(dim=(0, 2))
    assert torch.allclose(_prev[_l], _want_prev, atol=1e-5) and torch.allclose(_ind[_l], _want_ind, atol=1e-5)
assert count_hooks(_model) == 0
### END HIDDEN TESTS
'''

CELLS_075_SPEC = r'''
### Exercise 07.5 · name_the_heads

Difficulty ●●○ · Importance ●●● · ⏱ 15 min

Name the heads of the induction circuit of the **course's model** (`load_induction_model()`, the `model`
of the heatmaps above). Write `name_the_heads()` that returns a dict with two lists:

- `"previous_token"`: **every** head that is a previous-token head, as `(layer, head)` pairs;
- `"induction"`: **every** head that is an induction head.

Python ints, counted from 0; a single head is still a list, `[(0, 1)]`. A model can have several heads doing
the same job side by side, and a head can score a little on a role without doing it: decide from the
scores which heads really play each role.

The check measures the truth itself, with a method other than yours: it switches heads off (sets their
output to zero) and sees which heads the model can do the task with *on their own*. This is a finding:
return constants, or compute the lists from your scores.

<details><summary>Hint 1</summary>

Read the two heatmaps above: `(layer, head)` is `(row, column)`. A score far above the others is a role;
a score of 0.4 next to one of 0.95 is a head that looks a bit at the previous token, among other things.
</details>
<details><summary>Hint 2</summary>

The induction heads' keys read what the previous-token heads wrote into the residual stream, so the
previous-token heads must sit in an earlier layer than the induction heads.
</details>

**What you should see:** `✔ 07.5 name_the_heads passed`.
'''

CELLS_075_SOLUTION = r'''
def name_the_heads() -> dict:
    \"\"\"The induction circuit of the course's model (load_induction_model()).

    Returns:
        {"previous_token": [(layer, head), ...], "induction": [(layer, head), ...]}: every head that plays
        each role, as pairs of Python ints counted from 0.
    \"\"\"
    ### BEGIN SOLUTION
    course = load_induction_model()
    prev, ind = head_scores(course, repeated_pairs(200, 10, course.cfg.d_vocab, seed=5), 10)
    # A role is a score far above chance (about 1/position) and close to the best head's: here above 0.6.
    previous_token = [(0, h) for h in range(course.cfg.n_heads) if prev[0, h] > 0.6]  # layer 0: read the past
    induction = [(1, h) for h in range(course.cfg.n_heads) if ind[1, h] > 0.6]  # layer 1: read layer 0's output
    return {"previous_token": previous_token, "induction": induction}
    ### END SOLUTION
'''

CELLS_075_TEST = r'''
from mi_helpers.checks.nb07 import check_name_the_heads
check_name_the_heads(name_the_heads)
'''

NOT_EXPLANATION_TEXT = r'''
## 7 · Why attention weights are not explanations

A pattern is computed from queries and keys alone. What a head *does* with what it reads depends on its
values and its output weights, which the pattern never sees. The course's hand-built model makes the
point: its four heads all attend sharply, but two of them (L0H1, which attends to the current position,
and L1H1, which attends to the first) have output weights of zero. Their patterns are as striking as the
real heads', and they do nothing.

Below, the four patterns; then the model's predictions on repeated sequences when we **replace** each
head's pattern by uniform attention over the past (a hook on `hook_pattern` that returns a new tensor).
Look for: the decoys' patterns are the sharpest pictures, and replacing them changes no prediction at all,
while replacing the induction head's pattern destroys the predictions on the second copy.
'''

NOT_EXPLANATION_CODE = r'''
toy = hand_built_induction_model()
toy_tokens = repeated_pairs(100, 6, toy.cfg.d_vocab, seed=9)
_, toy_cache = run_with_cache(toy, toy_tokens)
fig, axes = plt.subplots(1, 4, figsize=(15, 3.2))
for i, (l, h) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
    role = {(0, 0): "previous token", (0, 1): "decoy", (1, 0): "induction", (1, 1): "decoy"}[(l, h)]
    plot.heatmap(toy_cache[f"blocks.{l}.attn.hook_pattern"][0, h], title=f"L{l}H{h}: {role}",
                 xlabel="key position", ylabel="query position", ax=axes[i])
plt.tight_layout()
plt.show()


def second_copy_accuracy(logits, tokens, length):
    return (logits[:, length:-1].argmax(-1) == tokens[:, length + 1:]).float().mean().item()


def uniform_pattern(head):
    def hook(pattern, name):
        n = pattern.shape[-1]
        flat = torch.ones(n, n, device=pattern.device).tril()
        pattern = pattern.clone()
        pattern[:, head] = flat / flat.sum(-1, keepdim=True)
        return pattern
    return hook


clean_logits = toy(toy_tokens)
print(f"no intervention       : accuracy on the second copy {second_copy_accuracy(clean_logits, toy_tokens, 6):.0%}")
for l, h in [(0, 1), (1, 1), (0, 0), (1, 0)]:
    with hooks(toy, [(f"blocks.{l}.attn.hook_pattern", uniform_pattern(h))]):
        logits = toy(toy_tokens)
    print(f"L{l}H{h} pattern uniform : accuracy {second_copy_accuracy(logits, toy_tokens, 6):.0%}, "
          f"largest change of a logit {(logits - clean_logits).abs().max().item():.3f}")
'''
