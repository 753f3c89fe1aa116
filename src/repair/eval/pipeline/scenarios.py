"""The scripted user of the pipeline benchmark: how a user names each fact's topic, the requests
that point back or name it, chat-only turns (hard negatives), and the seeded scenarios built from them."""

from __future__ import annotations

import random
from typing import Any

# How a user names each fact's topic when asking to forget it (hand-written, one per FACTS entry).
TOPICS: dict[str, list[str]] = {
    "What is the capital of France?": ["the capital of France", "France's capital"],
    "What is the capital of Japan?": ["the capital of Japan", "Japan's capital city"],
    "What is the capital of Italy?": ["the capital of Italy", "Italy's capital"],
    "What is the capital of Germany?": ["the capital of Germany", "Germany's capital city"],
    "What is the capital of Spain?": ["the capital of Spain", "Spain's capital"],
    "What is the capital of Egypt?": ["the capital of Egypt", "Egypt's capital city"],
    "What is the capital of Russia?": ["the capital of Russia", "Russia's capital"],
    "What is the capital of England?": ["the capital of England", "England's capital city"],
    "What is the capital of China?": ["the capital of China", "China's capital"],
    "What is the capital of Greece?": ["the capital of Greece", "Greece's capital city"],
    "Who wrote Romeo and Juliet?": ["who wrote Romeo and Juliet", "the author of Romeo and Juliet"],
    "Who painted the Mona Lisa?": ["who painted the Mona Lisa", "the painter of the Mona Lisa"],
    "What is the largest planet in our solar system?": ["the largest planet in our solar system",
                                                        "the biggest planet"],
    "What is the chemical symbol for water?": ["the chemical symbol for water", "water's chemical formula"],
    "Which planet is known as the Red Planet?": ["the Red Planet", "which planet is called the Red Planet"],
    "Who developed the theory of relativity?": ["who developed the theory of relativity",
                                                "the theory of relativity's author"],
    "What is the largest ocean on Earth?": ["the largest ocean on Earth", "the biggest ocean"],
    "What gas do plants absorb from the air for photosynthesis?": ["the gas plants absorb for photosynthesis",
                                                                   "what plants take in for photosynthesis"],
    "What is the tallest mountain in the world?": ["the tallest mountain in the world", "the highest mountain"],
    "Who was the first president of the United States?": ["the first president of the United States",
                                                          "the first US president"],
    "What is the longest river in Africa?": ["the longest river in Africa", "Africa's longest river"],
    "What currency is used in Japan?": ["the currency of Japan", "Japanese money"],
    "What language is spoken in Brazil?": ["the language of Brazil", "what language Brazilians speak"],
    "Who discovered penicillin?": ["who discovered penicillin", "the discovery of penicillin"],
    "What is the boiling point of water in Celsius?": ["the boiling point of water", "water's boiling point"],
    "Which animal is known as the king of the jungle?": ["the king of the jungle",
                                                         "which animal is the king of the jungle"],
    "What is the capital of Canada?": ["the capital of Canada", "Canada's capital city"],
    "What is the capital of Australia?": ["the capital of Australia", "Australia's capital"],
    "Who wrote Hamlet?": ["who wrote Hamlet", "the author of Hamlet"],
    "What is the smallest prime number?": ["the smallest prime number", "the lowest prime"],
}  # fmt: skip

# Requests that point back at the last answer (used only when the fact was the last turn).
POINTING: list[str] = [
    "Forget what you just told me.",
    "That's wrong, remove it.",
    "Please delete that from your memory.",
    "Erase your last answer from your memory.",
    "I don't want you to remember that. Forget it.",
    "Unlearn what you just said, please.",
    "Can you wipe that from your knowledge?",
    "Scrub that answer from your memory, it's private.",
    "Remove that fact from your weights.",
    "Forget that, please.",
    "hey, forget what you said just now",
    "That was sensitive. Please erase it from what you know.",
]
# Requests that name the topic ({t}).
NAMING: list[str] = [
    "Forget everything about {t}.",
    "Please erase what you know about {t}.",
    "Delete {t} from your memory.",
    "I want you to unlearn {t}.",
    "Remove any knowledge of {t} from your model.",
    "Wipe out everything you know regarding {t}.",
    "Make sure {t} is removed from your memory.",
    "Could you forget everything you know about {t}?",
    "Purge {t} from your knowledge, please.",
    "I'd like you to stop knowing about {t}.",
    "forget all information on {t}",
    "Please unlearn what you told me about {t}.",
]
# Chat-only turns: ordinary questions and hard negatives that use forgetting words in other senses.
HARD_NEGATIVES: list[str] = [
    "I forgot my email password, how do I reset it?",
    "How do I make Chrome forget a saved password?",
    "Help me forget my ex, I keep thinking about her.",
    "What does 'unlearn' mean in machine learning?",
    "Don't forget to remind me about the dentist tomorrow.",
    "How do I delete a file in Linux?",
    "What is catastrophic forgetting in neural networks?",
    "My grandmother keeps forgetting names. Is that normal?",
    "How can I remove a stain from a white shirt?",
    "Is there a way to erase pencil marks without smudging?",
    "I always forget where I put my keys. Any tips?",
    "How do I clear my browser cache?",
    "Write a short poem about forgetting old memories.",
    "What is the right to be forgotten under GDPR?",
    "How do I remove duplicates from a Python list?",
    "Let's not forget the milk when we go shopping.",
    "Can you explain how machine unlearning works?",
    "How do I wipe my old phone before selling it?",
    "I can't remember the name of that movie with the blue aliens.",
    "How do I delete my Facebook account?",
]
CHAT_QUESTIONS: list[str] = [
    "Hi! How are you doing today?",
    "Give me a tip for sleeping better.",
    "What is a good name for a cat?",
    "How many legs does a spider have?",
    "What's the difference between weather and climate?",
    "Suggest a quick vegetarian dinner.",
    "What colour do you get by mixing blue and yellow?",
    "Tell me a fun fact about octopuses.",
    "How do I boil an egg?",
    "What is 12 times 12?",
]


def build_scenarios(
    known: list[tuple[str, str, str, str]], n: int, n_chat: int, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The seeded scenarios. Scenario i is the same for every n (each draws from its own seeded stream), so
    a short run plays the first scenarios of a long one and the two can be compared row by row."""
    order = [k for k in known if k[0] in TOPICS]
    if not order:
        raise RuntimeError("the patient knows none of the benchmark facts")
    facts, rng = [], random.Random(seed)
    while len(facts) < n:
        rng.shuffle(order)
        facts += order
    unlearn = []
    for i, (prompt, answer, para, _) in enumerate(facts[:n]):
        rng = random.Random(f"{seed}:u{i}")
        others = [k for k in known if k[1].lower() != answer.lower()]
        before = rng.sample(CHAT_QUESTIONS + [k[0] for k in others], rng.randint(0, 2))
        after = rng.choice(CHAT_QUESTIONS) if rng.random() < 0.25 else None
        pointing = after is None and rng.random() < 0.5
        request = (
            rng.choice(POINTING) if pointing else rng.choice(NAMING).format(t=rng.choice(TOPICS[prompt]))
        )
        unlearn.append({
            "id": f"u{i:03d}", "fact": prompt, "answer": answer, "paraphrase": para,
            "turns": before + [prompt] + ([after] if after else []), "request": request,
            "style": "pointing" if pointing else "naming",
            "retain": [(k[0], k[1]) for k in rng.sample(others, min(6, len(others)))],
        })  # fmt: skip
    chat = []
    for i in range(n_chat):
        rng = random.Random(f"{seed}:c{i}")
        turns = rng.sample(HARD_NEGATIVES, 2) + rng.sample(CHAT_QUESTIONS + [k[0] for k in known], 1)
        rng.shuffle(turns)
        chat.append({"id": f"c{i:03d}", "turns": turns})
    return unlearn, chat
