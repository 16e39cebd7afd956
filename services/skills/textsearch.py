"""Relevance ranking of text by TF-IDF cosine similarity (scikit-learn), and the passage of a
document that answers a question best. Pure.

Words are lower-cased, plurals folded (``printers`` -> ``printer``) and hyphenated words kept both
whole and joined (``Wi-Fi`` -> ``wi``, ``fi``, ``wifi``), so the way a person types a word matches
the way a page spells it. Scores are cosines in [0, 1], comparable across questions, which is what
lets a caller say "no page answers this" below a threshold.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.metrics.pairwise import linear_kernel

_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
#: Words that carry no meaning in a how-to question, beyond English stop words.
_NOISE = frozenset({
    "hi", "hello", "hey", "thanks", "thank", "please", "pls", "regards", "help", "need", "want", "know", "tell", "question",
    "able", "set", "setup", "get", "got", "use", "using", "make", "way", "try", "tried", "today", "tomorrow", "yesterday",
    "tonight", "asap", "urgent", "ok", "okay", "thing", "does", "work", "working", "doesnt", "dont", "cant", "im",
})
#: "US" in capitals is the country, not the pronoun (which is a stop word).
_COUNTRY = re.compile(r"\bU\.?S\.?A?\b")
_STOP = frozenset(ENGLISH_STOP_WORDS) | _NOISE


def _fold(word: str) -> str:
    """A light stemmer (plurals, -ed, -ing, a final e), enough to match ``printers``/``printer``,
    ``policies``/``policy``, ``jammed``/``jam`` and ``approve``/``approved``."""
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 4 and word.endswith(("sses", "shes", "ches", "xes")):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "os")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        stem = word[: -len(suffix)]
        if word.endswith(suffix) and len(stem) >= 3 and any(v in stem for v in "aeiouy"):
            word = stem[:-1] if stem[-1] == stem[-2] and stem[-1] not in "lsz" else stem
            break
    return word[:-1] if len(word) > 4 and word.endswith("e") else word


def analyse(text: str) -> list[str]:
    """The terms of ``text``: words and adjacent word pairs, stop words dropped."""
    words: list[str] = []
    for token in _WORD.findall(_COUNTRY.sub(" united states ", text).lower()):
        token = token.replace("'s", "").replace("'", "")
        parts = token.split("-")
        if len(parts) > 1:
            words.append(_fold("".join(parts)))
        words += [_fold(p) for p in parts if p not in _STOP and len(p) > 1]
    words = [w for w in words if w not in _STOP]
    return words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]


class Index:
    """A TF-IDF index over documents (sublinear term frequency, L2-normalised rows)."""

    def __init__(self, documents: Sequence[str]) -> None:
        self.vectorizer = TfidfVectorizer(analyzer=analyse, sublinear_tf=True, norm="l2")
        self.matrix = self.vectorizer.fit_transform(documents)
        self._terms = [set(analyse(d)) for d in documents]

    def scores(self, query: str) -> list[float]:
        """Each document's cosine similarity to ``query``, in document order."""
        return [float(s) for s in linear_kernel(self.vectorizer.transform([query]), self.matrix)[0]]

    def coverage(self, query: str, document: int) -> float:
        """The share of the query's words (weighted by IDF) that the document contains. A word no
        document has weighs the most: a question about something the corpus never mentions is not
        answered by a page that happens to share its other words."""
        vocabulary, idf = self.vectorizer.vocabulary_, self.vectorizer.idf_
        words = [t for t in dict.fromkeys(analyse(query)) if " " not in t]
        weight = {t: float(idf[vocabulary[t]]) if t in vocabulary else float(idf.max()) for t in words}
        total = sum(weight.values())
        return sum(w for t, w in weight.items() if t in self._terms[document]) / total if total else 0.0


@dataclass(frozen=True)
class Passage:
    text: str
    score: float


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def best_passage(question: str, text: str, *, index: Index | None = None, span: int = 2, max_chars: int = 1200) -> Passage:
    """The run of up to ``span`` consecutive paragraphs of ``text`` closest to ``question`` (weighted
    by ``index``'s IDF when given, else by the text's own): an answer often starts in one paragraph
    (what it is about) and goes on in the next (the steps)."""
    parts = paragraphs(text)
    if not parts:
        return Passage("", 0.0)
    runs = ["\n\n".join(parts[i : i + span]) for i in range(max(1, len(parts) - span + 1))]
    scorer = index.vectorizer if index is not None else TfidfVectorizer(analyzer=analyse, sublinear_tf=True).fit(parts)
    scores = linear_kernel(scorer.transform([question]), scorer.transform(runs))[0]
    best = int(scores.argmax())
    chosen = runs[best]
    if len(chosen) > max_chars:
        chosen = chosen[: max_chars - 1].rsplit(" ", 1)[0] + "…"
    return Passage(chosen, float(scores[best]))
