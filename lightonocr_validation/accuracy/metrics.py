"""Edit-distance metrics on already normalized text.

All distances are plain Levenshtein (insertions, deletions and substitutions cost 1), computed by rapidfuzz.
The denominators differ on purpose and are stated in each docstring, because reports that mix them
(CER over the reference versus distance over the longer string) are not comparable.
"""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz.distance import Levenshtein

from lightonocr_validation.core.errors import shorten


def words(text: str) -> list[str]:
    """Split on whitespace: the word unit of WER.

    >>> words(" a  b\\nc ")
    ['a', 'b', 'c']
    """
    return text.split()


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate: Levenshtein distance over characters divided by ``len(reference)``.

    It exceeds 1 when the hypothesis adds more characters than the reference has (a model that loops).
    An empty reference gives 0.0 for an empty hypothesis, else ``len(hypothesis)`` (denominator taken as 1).

    >>> cer("abcd", "abXd")
    0.25
    >>> cer("ab", "abcdef")
    2.0
    """
    distance = Levenshtein.distance(reference, hypothesis)
    return distance / max(len(reference), 1)


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: Levenshtein distance over whitespace-separated words divided by the number of
    reference words (at least 1). Like CER it can exceed 1.

    >>> wer("the cat sat", "the bat sat")
    0.3333333333333333
    """
    ref_words: Sequence[str] = words(reference)
    return Levenshtein.distance(ref_words, words(hypothesis)) / max(len(ref_words), 1)


def ned(reference: str, hypothesis: str) -> float:
    """Normalized edit distance: character Levenshtein distance divided by ``max(len(reference),
    len(hypothesis))``, so always in [0, 1] (OmniDocBench's text metric). Two empty strings give 0.0.

    >>> ned("ab", "abcdef")
    0.6666666666666666
    """
    longest = max(len(reference), len(hypothesis))
    if longest == 0:
        return 0.0
    return Levenshtein.distance(reference, hypothesis) / longest


def first_difference(reference: str, hypothesis: str, context_words: int = 3, width: int = 120) -> str | None:
    """Describe the first place where the texts differ, word-aligned, as ``expected '…' got '…'``;
    None when they are equal.

    >>> first_difference("a b c d", "a b x d", context_words=1)
    "expected 'b c d' got 'b x d'"
    """
    ref_words, hyp_words = words(reference), words(hypothesis)
    for op in Levenshtein.opcodes(ref_words, hyp_words):
        if op.tag == "equal":
            continue
        exp = _clip(" ".join(ref_words[max(0, op.src_start - context_words) : op.src_end + context_words]), width)
        got = _clip(" ".join(hyp_words[max(0, op.dest_start - context_words) : op.dest_end + context_words]), width)
        return f"expected '{exp}' got '{got}'"
    return None


def _clip(text: str, width: int) -> str:
    return shorten(text, width, one_line=False)
