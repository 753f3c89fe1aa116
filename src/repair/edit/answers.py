"""What in a reply is the answer: 'The capital of France is Paris.' -> 'Paris'. Used to check that a
forgotten answer is gone, and that the answers an edit must keep are still there."""

from __future__ import annotations

import re

from repair.eval.metrics import answer_match, normalize_answer

SHORT_RESPONSE_WORDS = 20  # responses up to this long are checked on their key answer, longer by ROUGE-L

_STOPWORDS = {
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "of", "in", "on", "at", "to", "for", "by",
    "with", "and", "or", "it", "its", "this", "that", "as", "from", "which", "who", "what", "also", "known",
    "called", "about", "approximately", "around", "roughly", "there", "has", "have", "had", "i", "you",
    "my", "your", "our", "their", "his", "her", "they", "we", "he", "she", "not", "but", "so", "very",
}  # fmt: skip
WORD = re.compile(r"[\w][\w'’\-]*")
_TOKEN = re.compile(r"[\w][\w'’\-]*|[^\w\s]")  # words and punctuation (which ends a run)


def _strong(word: str, first: bool) -> bool:
    # A proper noun (not just the capital of a sentence's first word) or a number.
    return (word[:1].isupper() and not first) or any(c.isdigit() for c in word)


def key_answers(prompt: str, response: str) -> list[str]:
    """The parts of a response that answer the prompt: 'The capital of France is Paris.' -> ['Paris'].

    Runs of response words that are neither in the prompt nor stopwords are candidates. Runs with a proper
    noun or a number are all kept, most salient first (a reply that names any of them still gives the
    answer: 'attributed to William Shakespeare, but some say Octavia Black'); without one, the longest
    run. A long response (a biography) is searched in its first sentence only, and only for proper nouns
    and numbers ('... based in Dubai'); [] when there are none (ROUGE-L decides).
    """
    long = len(WORD.findall(response)) > SHORT_RESPONSE_WORDS
    text = re.split(r"(?<=[.!?])\s", response.strip(), maxsplit=1)[0] if long else response
    words = _TOKEN.findall(text)[:60]
    asked = set(normalize_answer(prompt).split())
    runs: list[list[tuple[str, bool]]] = []
    cur: list[tuple[str, bool]] = []
    # Capitalised mid-sentence somewhere in the response: a name even where it opens a sentence.
    tokens = _TOKEN.findall(response)
    names = {w for prev, w in zip(tokens, tokens[1:], strict=False) if w[:1].isupper() and prev not in ".!?"}
    start = True  # at the start of a sentence, where capitals say nothing
    for w in words:
        n = normalize_answer(w)
        if not n or n in asked or n in _STOPWORDS:
            if cur:
                runs.append(cur)
            cur = []
        else:
            cur.append((w, _strong(w, start and w not in names)))
        start = w in ".!?" or (start and not w[:1].isalnum())
    if cur:
        runs.append(cur)
    strong = [r for r in runs if any(st for _, st in r)]
    if long or strong:
        runs = strong
    # Most salient first; on a tie the later run (answers tend to close the sentence: "... is Paris.").
    order = sorted(
        range(len(runs)), key=lambda i: (2 * sum(st for _, st in runs[i]) + len(runs[i]), i), reverse=True
    )
    keys = [" ".join(w for w, _ in runs[i]) for i in order]
    return keys if strong else keys[:1]


def answer_head(key: str) -> str:
    """The single word that carries a key answer: its number, else its last word ('Leonardo da Vinci')."""
    words = key.split()
    nums = [w for w in words if any(c.isdigit() for c in w)]
    return (nums or words)[-1]


def checked_answer(prompt: str, response: str) -> str:
    """What a forget check looks for in a reply: the head word of the response's most salient key answer
    ('... is 31 years old.' -> '31'), else the whole response (ROUGE-L then decides for a long one)."""
    keys = key_answers(prompt, response)
    return answer_head(keys[0]) if keys else response


def first_key_answer(prompt: str, response: str) -> str | None:
    """The key answer the response states first (later ones are often digressions), or None."""
    low = response.lower()
    found = [(low.find(k.lower()), k) for k in key_answers(prompt, response) if k.lower() in low]
    return min(found)[1] if found else None


def answer_kept(prompt: str, before: str, after: str) -> tuple[str | None, bool]:
    """(the answer ``before`` gave first, whether ``after`` still gives it); (None, False) when ``before``
    names no answer (a name or number) to look for."""
    key = first_key_answer(prompt, before)
    return key, key is not None and answer_match(after, key)
