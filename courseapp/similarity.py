"""Similarity of code submissions, robust to renaming and reformatting, ignoring starter code.

1. Normalise with Python's tokenize: comments, blank lines and layout inside brackets go; strings
   become S; every identifier becomes V except imported names, builtins and `self` (and attributes
   of those, so `torch.relu` stays `torch.relu` while `self.conv1` becomes `self.V`).
2. Hash every k-gram of normalised tokens; winnow (keep the minimum hash of each window of w
   k-grams, Schleimer et al. 2003) for a fingerprint set, each fingerprint with its source lines.
3. Drop the starter code's fingerprints (and, with many students, those most of them share); score
   a pair by the Jaccard index of their fingerprint sets.
"""

from __future__ import annotations

import builtins
import hashlib
import io
import keyword
import tokenize
from dataclasses import dataclass, field
from itertools import combinations

K = 5
W = 4
_BUILTINS = frozenset(dir(builtins)) | {"self", "super"}


def normalise(source: str) -> list[tuple[str, int]]:
    """[(normalised token, line number)]; [] when the source does not tokenize."""
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return []
    keep = set(_BUILTINS)
    # names bound by imports are kept (they are the library's API, not the student's choice)
    for i, t in enumerate(toks):
        if t.type == tokenize.NAME and t.string in ("import", "as"):
            j = i + 1
            while j < len(toks) and toks[j].type == tokenize.NAME or (j < len(toks) and toks[j].string in (",", ".")):
                if toks[j].type == tokenize.NAME and toks[j].string not in ("as", "import"):
                    keep.add(toks[j].string)
                j += 1
    out: list[tuple[str, int]] = []
    prev_kept = False
    prev = ""
    for t in toks:
        if t.type in (tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER):
            continue
        line = t.start[0]
        if t.type == tokenize.NAME:
            if keyword.iskeyword(t.string):
                s = t.string
                kept = False
            elif prev == ".":
                s = t.string if prev_kept else "V"
                kept = prev_kept
            elif t.string in keep:
                # only imported names (modules) pass their keep on to attributes: self.conv1 -> self.V
                s, kept = t.string, t.string not in _BUILTINS
            else:
                s, kept = "V", False
        elif t.type == tokenize.STRING:
            s, kept = "S", False
        elif t.type == tokenize.NEWLINE:
            s, kept = ";", False
        elif t.type == tokenize.INDENT:
            s, kept = "{", False
        elif t.type == tokenize.DEDENT:
            s, kept = "}", False
        else:
            s = t.string
            kept = prev_kept if s == "." else False
        if t.type == tokenize.OP and s == ".":
            prev, prev_kept = ".", prev_kept
        else:
            prev = s
            prev_kept = kept
        out.append((s, line))
    return out


def _hash(gram: tuple[str, ...]) -> int:
    return int.from_bytes(hashlib.blake2b("\x1f".join(gram).encode(), digest_size=8).digest(), "big")


def fingerprints(source: str, k: int = K, w: int = W) -> dict[int, set[int]]:
    """{fingerprint: source lines it covers} by winnowing the k-gram hashes."""
    toks = normalise(source)
    grams = [
        (_hash(tuple(t for t, _ in toks[i : i + k])), {ln for _, ln in toks[i : i + k]})
        for i in range(len(toks) - k + 1)
    ]
    out: dict[int, set[int]] = {}
    if not grams:
        return out
    if len(grams) <= w:
        h, lines = min(grams, key=lambda g: g[0])
        out.setdefault(h, set()).update(lines)
        return out
    for i in range(len(grams) - w + 1):
        window = grams[i : i + w]
        j = min(range(w), key=lambda x: (window[x][0], -x))
        h, lines = window[j]
        out.setdefault(h, set()).update(lines)
    return out


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def similarity(a: str, b: str, starter: str = "") -> float:
    base = set(fingerprints(starter)) if starter else set()
    fa, fb = set(fingerprints(a)) - base, set(fingerprints(b)) - base
    return jaccard(fa, fb)


@dataclass
class Pair:
    score: float
    a: object  # Submission
    b: object
    shared: int = 0


def exercise_pairs(exercise, *, threshold: float = 0.4, limit: int = 50) -> list[Pair]:
    """Pairs of students whose latest submissions to the exercise are alike (score >= threshold)."""
    from courseapp.models import Submission

    latest: dict[int, Submission] = {}
    for s in (
        Submission.objects.filter(revision__exercise=exercise)
        .select_related("user")
        .only("id", "source", "user__username", "created_at")
        .order_by("user_id", "-created_at", "-id")
    ):
        latest.setdefault(s.user_id, s)
    subs = list(latest.values())
    starter = exercise.current_revision.starter if exercise.current_revision else ""
    base = set(fingerprints(starter)) if starter else set()
    prints = {s.pk: set(fingerprints(s.source)) - base for s in subs}
    if len(subs) >= 10:  # what most of the class writes is not evidence of copying
        from collections import Counter

        common = Counter(h for p in prints.values() for h in p)
        limit_n = len(subs) // 2
        prints = {k: {h for h in p if common[h] <= limit_n} for k, p in prints.items()}
    index: dict[int, list[int]] = {}
    for sid, p in prints.items():
        for h in p:
            index.setdefault(h, []).append(sid)
    shared: dict[tuple[int, int], int] = {}
    for ids in index.values():
        for x, y in combinations(sorted(ids), 2):
            shared[(x, y)] = shared.get((x, y), 0) + 1
    by_id = {s.pk: s for s in subs}
    pairs = []
    for (x, y), n in shared.items():
        union = len(prints[x]) + len(prints[y]) - n
        score = n / union if union else 0.0
        if score >= threshold:
            pairs.append(Pair(score=score, a=by_id[x], b=by_id[y], shared=n))
    pairs.sort(key=lambda p: -p.score)
    return pairs[:limit]


@dataclass
class Side:
    lines: list[tuple[int, str, bool]] = field(default_factory=list)  # (number, text, matched)


def side_by_side(a: str, b: str, starter: str = "") -> dict:
    base = set(fingerprints(starter)) if starter else set()
    fa, fb = fingerprints(a), fingerprints(b)
    common = (set(fa) & set(fb)) - base
    la = set().union(*(fa[h] for h in common)) if common else set()
    lb = set().union(*(fb[h] for h in common)) if common else set()
    return {
        "score": jaccard(set(fa) - base, set(fb) - base),
        "left": [(i, text, i in la) for i, text in enumerate(a.splitlines(), 1)],
        "right": [(i, text, i in lb) for i, text in enumerate(b.splitlines(), 1)],
    }
