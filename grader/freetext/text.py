"""Plain-text handling for free-text answers: decoding, sentence splitting, and the cheap
signals (questions, praise, code, keyword lists, negation) that need no model.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

SentenceKind = Literal["content", "question", "praise", "filler", "code"]

# Tokens that turn a statement into its opposite when they sit just before the key word.
NEGATOR = re.compile(r"\b(not|no|never|cannot|nor|hardly|barely)\b|n't\b", re.IGNORECASE)
# Words that link a cause to an effect. An explanation has at least one; a list of true-sounding
# statements ("The identity is zero. The gradient is a shortcut.") has none.
REASONING = re.compile(
    r"\b(because|so|since|if|then|therefore|thus|hence|which|when|whenever|means?|meaning|why|gives?|giving|"
    r"makes?|making|made|lets?|allows?|leads?|causes?|results?|thanks to|due to|otherwise|unless|while|whereas|"
    r"but|worst|until|only if|even if|provided|need|needs|would|could)\b|=|->|=>|\u2192|\u21d2",
    re.IGNORECASE,
)
# "does not have to", "not only", "no need to" do not deny what follows them.
_NOT_A_DENIAL = re.compile(
    r"\b(do|does|did)?\s*(not|n't)\s+(have|has|need|needs)\s+to\b|\bnot\s+(only|just|necessarily)\b|"
    r"\bno\s+need\b|\bnot\s+even\b",
    re.IGNORECASE,
)
_CLAUSE_BREAK = re.compile(r"[,;:()]|\b(but|while|whereas|unlike|although|though)\b", re.IGNORECASE)

# Words that glue a real sentence together; a keyword list has almost none of them.
FUNCTION_WORDS = frozenset(
    """
a an the this that these those it its it's they them their there here is are was were be been being am
do does did doing done has have had having can could will would should may might must shall
to of in on at by for with from into onto about as than then so because since if when while whereas
but and or nor not no never also just only even still too very much more most less least
what which who whom whose why how where all any each every some such other another same both either
i we you he she me us my our your his her one ones something nothing anything everything
make makes made get gets got give gives gave let lets go goes went keep keeps way like means mean
""".split()
)

_MATH = re.compile(r"[A-Za-z]\w*\[[^\]]*\]")  # a[l], z[l+2], W[l+2]: notation, not prose
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_CODE_LINE = re.compile(
    r"^\s*(def |class |import |from \w+ import|return\b|for .* in .*:|if .*:\s*$|elif |else:|while .*:|"
    r"self\.|@\w+|print\(|#!|try:|except\b|with .* as .*:)|(\bnn\.\w+\(|\bF\.\w+\(|\btorch\.\w+)|[{};]\s*$|\):\s*$"
)
_PRAISE = re.compile(
    r"\b(thanks?|thank you|great|awesome|amazing|love[ds]?|loved|cool|nice|excellent|brilliant|fantastic|"
    r"enjoy(ed)?|well explained|clearly|best (course|lecture|teacher))\b",
    re.IGNORECASE,
)
_COURSE = re.compile(
    r"\b(course|lecture|video|class|teacher|professor|andrew|week|slides?|explanation|explains?)\b", re.IGNORECASE
)
_FILLER = re.compile(
    r"^\s*(i (really )?(don'?t|do not) (know|understand|get it)|no idea|sorry|idk|n/?a|pass|\?+|\.+|-+|"
    r"i hope (this|it) (helps|makes sense)|hope (this|it) (helps|makes sense)|that'?s (all|it)|"
    r"anyway,? that is my understanding)\b[^.!?]*[.!?]*\s*$",
    re.IGNORECASE,
)
_QUESTION_START = re.compile(
    r"^\s*(why|how|what|is|isn't|are|aren't|does|doesn't|do|can|could|would|should|"
    r"will|which|where|who)\b",
    re.IGNORECASE,
)


class BadInput(ValueError):
    """The bytes are not an answer we can grade at all (not UTF-8, empty, too long)."""


def decode_answer(submission: bytes, max_chars: int) -> str:
    """Strict UTF-8 decode and size check; returns the answer with unified quotes and spacing."""
    try:
        text = submission.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(
            f"Your answer could not be read as UTF-8 text (byte {exc.start} is invalid). Please submit plain text."
        ) from None
    text = text.lstrip("\ufeff").strip()
    if "\x00" in text:
        raise BadInput("Your answer contains binary data (a NUL character). Please submit plain text.")
    if not text:
        raise BadInput("Your answer is empty. Write a few sentences that answer the question.")
    if len(text) > max_chars:
        raise BadInput(
            f"Your answer is {len(text):,} characters long; the limit is {max_chars:,}. "
            "Shorten it to the essential argument and submit again."
        )
    return normalise(text)


def normalise(text: str) -> str:
    """NFKC, straight quotes, no control characters, so one set of regexes fits every keyboard."""
    text = unicodedata.normalize("NFKC", text)
    text = text.translate({0x2018: "'", 0x2019: "'", 0x201C: '"', 0x201D: '"', 0x2013: "-", 0x2014: " - ", 0x2212: "-"})
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return re.sub(r"[ \t]+", " ", text)


def prose_words(text: str) -> list[str]:
    """Words of the prose, with bracketed notation like a[l+2] removed."""
    return _WORD.findall(_MATH.sub(" ", text))


def function_word_ratio(text: str) -> float:
    words = [w.lower() for w in prose_words(text)]
    return sum(w in FUNCTION_WORDS for w in words) / len(words) if words else 0.0


def distinct_ratio(text: str) -> float:
    words = [w.lower() for w in prose_words(text)]
    return len(set(words)) / len(words) if words else 1.0


def code_line_fraction(text: str) -> float:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return sum(bool(_CODE_LINE.search(ln)) for ln in lines) / len(lines) if lines else 0.0


_ABBREVIATION = re.compile(r"\b(e\.g|i\.e|etc|vs|cf|approx|fig|eq|resp|al)\.$", re.IGNORECASE)


def split_sentences(text: str) -> list[str]:
    """Sentences and bullet lines; '. ' ends a sentence (lower-case notes too) except after e.g./i.e./etc."""
    out: list[str] = []
    for line in text.splitlines():
        line = re.sub(r"^\s*([-*•]|\d+[.)])\s+", "", line).strip()
        if not line:
            continue
        start = 0
        for m in re.finditer(r"(?<=[.!?])\s+", line):
            if not _ABBREVIATION.search(line[start : m.start()]):
                out.append(line[start : m.start()].strip())
                start = m.end()
        out.append(line[start:].strip())
    return [s for s in out if s]


def classify_sentence(sentence: str) -> SentenceKind:
    """What a sentence does: only 'content' sentences can earn credit."""
    if _CODE_LINE.search(sentence) and function_word_ratio(sentence) < 0.2:
        return "code"
    stripped = sentence.rstrip()
    if stripped.endswith("?"):
        return "question"
    if _FILLER.match(stripped):
        return "filler"
    # Praise of the course earns nothing; "the identity is a great default" is still content.
    if _PRAISE.search(stripped) and (_COURSE.search(stripped) or len(prose_words(stripped)) <= 6):
        return "praise"
    if _QUESTION_START.match(stripped) and len(prose_words(stripped)) <= 12 and not re.search(r"[.!]$", stripped):
        return "question"
    return "content"


def clause(text: str, start: int, end: int) -> tuple[int, int]:
    """The clause around text[start:end]: from the last break before it to the first break after it."""
    left = 0
    for m in _CLAUSE_BREAK.finditer(text, 0, start):
        left = m.end()
    right_match = _CLAUSE_BREAK.search(text, end)
    return left, right_match.start() if right_match else len(text)


def is_negated(text: str, start: int, end: int, lookback_words: int = 3) -> bool:
    """True when a negator sits inside [start, end) or in the few words before it, same clause."""
    left, _ = clause(text, start, start)
    before = text[left:start]
    window = " ".join(before.split()[-lookback_words:]) + " " + text[start:end]
    return bool(NEGATOR.search(_NOT_A_DENIAL.sub(" ", window)))
