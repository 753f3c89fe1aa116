"""Short general-knowledge facts with a paraphrase each, for end-to-end forgetting checks.

Which of them a model knows is decided by asking it (``known_facts``), never assumed.
"""

from __future__ import annotations

from repair.eval.metrics import answer_match

# (prompt, answer, paraphrase)
FACTS: list[tuple[str, str, str]] = [
    ("What is the capital of France?", "Paris", "Which city is the capital of France?"),
    ("What is the capital of Japan?", "Tokyo", "Which city is the capital of Japan?"),
    ("What is the capital of Italy?", "Rome", "Which city is the capital of Italy?"),
    ("What is the capital of Germany?", "Berlin", "Which city is the capital of Germany?"),
    ("What is the capital of Spain?", "Madrid", "Which city is the capital of Spain?"),
    ("What is the capital of Egypt?", "Cairo", "Which city is the capital of Egypt?"),
    ("What is the capital of Russia?", "Moscow", "Which city is the capital of Russia?"),
    ("What is the capital of England?", "London", "Which city is the capital of England?"),
    ("What is the capital of China?", "Beijing", "Which city is the capital of China?"),
    ("What is the capital of Greece?", "Athens", "Which city is the capital of Greece?"),
    ("Who wrote Romeo and Juliet?", "Shakespeare", "Who is the author of Romeo and Juliet?"),
    ("Who painted the Mona Lisa?", "Leonardo", "Which artist painted the Mona Lisa?"),
    (
        "What is the largest planet in our solar system?",
        "Jupiter",
        "Which planet is the biggest in the solar system?",
    ),
    ("What is the chemical symbol for water?", "H2O", "What is the chemical formula of water?"),
    ("Which planet is known as the Red Planet?", "Mars", "What planet is called the Red Planet?"),
    (
        "Who developed the theory of relativity?",
        "Einstein",
        "Which scientist came up with the theory of relativity?",
    ),
    ("What is the largest ocean on Earth?", "Pacific", "Which ocean is the biggest on Earth?"),
    (
        "What gas do plants absorb from the air for photosynthesis?",
        "carbon dioxide",
        "Which gas do plants take in for photosynthesis?",
    ),
    ("What is the tallest mountain in the world?", "Everest", "Which mountain is the highest in the world?"),
    (
        "Who was the first president of the United States?",
        "Washington",
        "Who served as the first US president?",
    ),
    ("What is the longest river in Africa?", "Nile", "Which river is the longest in Africa?"),
    ("What currency is used in Japan?", "yen", "What is the currency of Japan?"),
    ("What language is spoken in Brazil?", "Portuguese", "What is the official language of Brazil?"),
    ("Who discovered penicillin?", "Fleming", "Which scientist discovered penicillin?"),
    (
        "What is the boiling point of water in Celsius?",
        "100",
        "At what temperature in Celsius does water boil?",
    ),
    (
        "Which animal is known as the king of the jungle?",
        "lion",
        "What animal is called the king of the jungle?",
    ),
    ("What is the capital of Canada?", "Ottawa", "Which city is the capital of Canada?"),
    ("What is the capital of Australia?", "Canberra", "Which city is the capital of Australia?"),
    ("Who wrote Hamlet?", "Shakespeare", "Who is the author of Hamlet?"),
    ("What is the smallest prime number?", "2", "Which prime number is the smallest?"),
]


def known_facts(
    patient, facts: list[tuple[str, str, str]] = FACTS, max_new_tokens: int = 32
) -> list[tuple[str, str, str, str]]:
    """Facts the patient answers correctly for both phrasings: (prompt, answer, paraphrase, reply)."""
    replies = patient.generate([f[0] for f in facts] + [f[2] for f in facts], max_new_tokens=max_new_tokens)
    n = len(facts)
    return [
        (p, a, q, replies[i])
        for i, (p, a, q) in enumerate(facts)
        if answer_match(replies[i], a) and answer_match(replies[n + i], a)
    ]
