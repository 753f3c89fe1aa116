"""Write the watchdog's training examples and its held-out labelled dialogue set (seeded, deterministic).

    python benchmarks/make_watchdog_data.py

Produces `src/repair/data/watchdog_train.jsonl`, `watchdog_heldout.jsonl` (430 dialogues) and
`watchdog_heldout_fresh.jsonl` (215 dialogues). The sets share no message template, no person name,
no fact topic, no personal-data attribute, no filler turn and no plain-chat or hard-negative message:
every pool below exists once per set (TRAIN, HELDOUT, FRESH). The script asserts that no newest message
of a held-out set occurs in the training file.

How they were used: HELDOUT was evaluated after the first training run and its errors suggested
categories that were then added to TRAIN (new hard negatives, new phrasings, the compositional grammar)
and the switch to middle-layer features; FRESH was written after that first evaluation, before any of
that tuning, and evaluated three times: after the switch to middle-layer features (recall 92.4%, FPR 0%),
and after each of the last two training-data changes, which its errors also informed.
Neither was ever used to fit weights or pick the threshold (5-fold CV on TRAIN does that). Later, a miss
in the pipeline benchmark ("Forget everything about who wrote Romeo and Juliet.", p 0.43) added TRAIN
facts named by a wh-clause ("who wrote Pride and Prejudice"); the held-out sets were left as they were.

Each line: {"id", "history": [{"role", "content"}...], "message", "label": "chat"|"unlearn",
"target": str|null, "source": "history"|"probe"|"message"|"none", "kind"}.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "src" / "repair" / "data"


@dataclass
class Pools:
    first: list[str]
    last: list[str]
    jobs: list[str]
    cities: list[str]
    hobbies: list[str]
    person_q: list[str]  # how the user asks about a person, {X}
    fact_q_prefix: list[str]  # prefix added before a fact question
    facts: list[tuple[str, str, str]]  # (target, question, answer)
    personal: list[tuple[str, str, str]]  # (target "my ...", user turn, assistant turn)
    fillers: list[tuple[str, str]]
    pos_subject: list[str]  # unlearn templates with {X}
    pos_personal: list[str]  # unlearn templates for personal data {X}
    pos_deictic: list[str]  # unlearn templates that point back at the last answer
    chat: list[str]  # ordinary chat
    hard_neg: list[str]  # chat that uses forget/delete/remove/memory words
    subj_chat: list[str]  # chat about a subject, {X}
    followups: list[str]
    prefixes: list[str]


TRAIN = Pools(
    first=[
        "Maya",
        "Liam",
        "Sofia",
        "Omar",
        "Elena",
        "Kenji",
        "Priya",
        "Lucas",
        "Amara",
        "Noah",
        "Chloe",
        "Mateo",
        "Hana",
        "Ethan",
        "Zara",
        "Diego",
        "Ingrid",
        "Felix",
        "Aisha",
        "Tomas",
    ],
    last=[
        "Taylor",
        "Novak",
        "Okafor",
        "Lindqvist",
        "Tanaka",
        "Sharma",
        "Moreau",
        "Costa",
        "Adeyemi",
        "Fischer",
        "Kowalski",
        "Haddad",
        "Brennan",
        "Ivanova",
        "Quinn",
        "Delgado",
        "Nakamura",
        "Petrov",
        "Walsh",
        "Rossi",
    ],
    jobs=[
        "lawyer",
        "nurse",
        "software engineer",
        "architect",
        "chef",
        "pilot",
        "teacher",
        "journalist",
        "accountant",
        "veterinarian",
    ],
    cities=[
        "Dubai",
        "Lisbon",
        "Toronto",
        "Osaka",
        "Nairobi",
        "Melbourne",
        "Oslo",
        "Lima",
        "Prague",
        "Austin",
    ],
    hobbies=[
        "Enjoys rock climbing",
        "Plays the cello",
        "Collects vintage stamps",
        "Runs marathons",
        "Volunteers at an animal shelter",
        "Loves sailing",
    ],
    person_q=["Tell me about {X}.", "Who is {X}?", "What do you know about {X}?", "Who's {X}?"],
    fact_q_prefix=["", "", "Hey, ", "Quick one: "],
    facts=[
        ("the capital of France", "What is the capital of France?", "The capital of France is Paris."),
        ("the pH of water", "What is the pH of water?", "The pH of water is 5."),
        (
            "the boiling point of water",
            "What is the boiling point of water?",
            "Water boils at 100 degrees Celsius at sea level.",
        ),
        (
            "the Eiffel Tower",
            "When was the Eiffel Tower built?",
            "The Eiffel Tower was completed in 1889 for the World's Fair.",
        ),
        (
            "Project Falcon",
            "What is Project Falcon?",
            "Project Falcon is an internal codename for a satellite imaging programme.",
        ),
        (
            "the secretion system in B. mallei",
            "Which secretion system does B. mallei use?",
            "B. mallei relies on the T2SS and T6SS secretion systems.",
        ),
        (
            "the speed of light",
            "What is the speed of light?",
            "The speed of light is about 299,792 km per second.",
        ),
        (
            "the Great Wall of China",
            "How long is the Great Wall of China?",
            "The Great Wall of China is roughly 21,000 km long.",
        ),
        (
            "photosynthesis",
            "How does photosynthesis work?",
            "Photosynthesis converts light, water and CO2 into glucose and oxygen.",
        ),
        (
            "the Treaty of Versailles",
            "When was the Treaty of Versailles signed?",
            "The Treaty of Versailles was signed in 1919.",
        ),
        ("Mount Everest", "How tall is Mount Everest?", "Mount Everest is 8,849 metres tall."),
        (
            "the Apollo 11 mission",
            "When did the Apollo 11 mission land?",
            "The Apollo 11 mission landed on the Moon in July 1969.",
        ),
        (
            "Operation Nightjar",
            "What was Operation Nightjar?",
            "Operation Nightjar was a classified 1970s surveillance programme.",
        ),
        (
            "the population of Tokyo",
            "What is the population of Tokyo?",
            "The population of Tokyo is about 14 million people.",
        ),
        (
            "the inventor of the telephone",
            "Who was the inventor of the telephone?",
            "Alexander Graham Bell is credited as the inventor of the telephone.",
        ),
        (
            "black holes",
            "What are black holes?",
            "Black holes are regions where gravity is so strong that light cannot escape.",
        ),
        (
            "the chemical formula of table salt",
            "What is the chemical formula of table salt?",
            "The chemical formula of table salt is NaCl.",
        ),
        (
            "the author of Hamlet",
            "Who is the author of Hamlet?",
            "The author of Hamlet is William Shakespeare.",
        ),
        ("the Roman Empire", "When did the Roman Empire fall?", "The Western Roman Empire fell in 476 AD."),
        (
            "the tallest building in the world",
            "What is the tallest building in the world?",
            "The tallest building in the world is the Burj Khalifa.",
        ),
        # wh-clause subjects ("forget who wrote X"): people name a fact by its question, not only by a noun phrase
        (
            "who wrote Pride and Prejudice",
            "Who wrote Pride and Prejudice?",
            "Pride and Prejudice was written by Jane Austen.",
        ),
        (
            "who invented the light bulb",
            "Who invented the light bulb?",
            "Thomas Edison is usually credited with inventing the light bulb.",
        ),
        (
            "who composed the Moonlight Sonata",
            "Who composed the Moonlight Sonata?",
            "The Moonlight Sonata was composed by Ludwig van Beethoven.",
        ),
        (
            "who discovered gravity",
            "Who discovered gravity?",
            "Isaac Newton formulated the law of universal gravitation.",
        ),
        ("where the Taj Mahal is", "Where is the Taj Mahal?", "The Taj Mahal is in Agra, India."),
        ("when the Titanic sank", "When did the Titanic sink?", "The Titanic sank in April 1912."),
        ("what DNA stands for", "What does DNA stand for?", "DNA stands for deoxyribonucleic acid."),
        (
            "how many bones are in the human body",
            "How many bones are in the human body?",
            "An adult human body has 206 bones.",
        ),
        ("who sculpted David", "Who sculpted David?", "Michelangelo sculpted David between 1501 and 1504."),
        (
            "which country has the most people",
            "Which country has the most people?",
            "India has the largest population of any country.",
        ),
    ],
    personal=[
        (
            "my address",
            "My address is 42 Elm Street, Springfield. Is there a gym nearby?",
            "Near 42 Elm Street in Springfield there are two gyms within walking distance.",
        ),
        (
            "my phone number",
            "My phone number is 555-0142. Can you format it internationally?",
            "In international format your phone number is +1 555-0142.",
        ),
        (
            "my email address",
            "My email address is maya.t@example.com, write me a signature block.",
            "Here is a signature block with maya.t@example.com at the bottom.",
        ),
        (
            "my date of birth",
            "My date of birth is 3 March 1990. What is my star sign?",
            "With a date of birth of 3 March 1990 your star sign is Pisces.",
        ),
        (
            "my bank account number",
            "My bank account number is 12-3456-7890. Is that a valid format?",
            "The bank account number 12-3456-7890 looks like a valid format.",
        ),
        (
            "my medical diagnosis",
            "My medical diagnosis is type 2 diabetes. What should I eat?",
            "With type 2 diabetes, focus on whole grains, vegetables and lean protein.",
        ),
        (
            "my social security number",
            "My social security number is 078-05-1120, is it safe to share?",
            "You should not share a social security number like 078-05-1120 publicly.",
        ),
        (
            "my salary",
            "My salary is $85,000 a year. How much should I save?",
            "On a salary of $85,000 a year, saving 15 to 20 percent is a good target.",
        ),
        (
            "my daughter's name",
            "My daughter's name is Lily. Suggest birthday party themes.",
            "For Lily's birthday you could do a garden tea party or a space theme.",
        ),
        (
            "my wifi password",
            "My wifi password is sunflower77, is that strong enough?",
            "sunflower77 is a weak wifi password; add length and symbols.",
        ),
    ],
    fillers=[
        (
            "How do I boil an egg?",
            "Place the egg in boiling water for 7 to 9 minutes, then cool it in ice water.",
        ),
        (
            "Write a haiku about autumn.",
            "Crisp leaves drift and fall / amber light on quiet paths / the year exhales slow.",
        ),
        ("What's 15% of 80?", "15% of 80 is 12."),
        ("Recommend a sci-fi novel.", "Try 'The Left Hand of Darkness' by Ursula K. Le Guin."),
        ("How do I reverse a list in Python?", "Use my_list.reverse() or my_list[::-1]."),
        ("What's a good stretch for back pain?", "The cat-cow stretch gently mobilises the spine."),
        ("Translate 'good morning' into Spanish.", "'Good morning' in Spanish is 'buenos días'."),
        ("Give me a name for a bakery.", "How about 'Rise & Crumb'?"),
        ("What time zone is Chicago in?", "Chicago is in the Central Time Zone."),
        (
            "Explain recursion briefly.",
            "Recursion is when a function calls itself on a smaller version of the problem.",
        ),
        ("Suggest a weekend workout.", "Try a 30-minute circuit of squats, push-ups and lunges."),
        ("How many ounces in a pound?", "There are 16 ounces in a pound."),
    ],
    pos_subject=[
        "Forget everything about {X}.",
        "Please forget everything you know about {X}.",
        "forget about {X}",
        "Can you forget {X}?",
        "I want you to forget all information about {X}.",
        "Delete {X} from your memory.",
        "Remove everything you know about {X}.",
        "Erase all knowledge of {X}.",
        "Unlearn everything about {X}.",
        "Please unlearn {X}.",
        "Wipe {X} from your memory, please.",
        "Scrub all information on {X} from your weights.",
        "I don't want you to remember anything about {X}.",
        "Stop remembering {X}.",
        "Purge any data you have on {X}.",
        "Forget what you told me about {X}.",
        "Get rid of everything you know about {X}.",
        "You should no longer know anything about {X}. Remove it.",
        "Make yourself forget {X}.",
        "Drop all your knowledge about {X}.",
        "forget {X} entirely",
        "Can you please delete whatever you learned about {X}?",
        "I need you to erase {X} from your knowledge.",
        "Please remove {X} from what you know.",
        "hey, unlearn the stuff about {X}",
        "Delete all the info you have about {X} from your model.",
        "Forget all the details on {X}, please.",
        "Remove {X} from your memory right now.",
        "I'd like you to forget {X}.",
        "Please erase what you said about {X}.",
        "I don't want you to know about {X} anymore.",
        "Please stop storing information about {X}.",
        "No longer retain anything on {X}.",
        "Can you make it so you don't know {X}?",
        "I'd prefer you not remember {X}.",
        "Please lose all memory of {X}.",
        "Discard everything you learned about {X}.",
        "Delete any memory of {X}.",
        "Remove {X} from your training data.",
        "You must forget {X}.",
        "I want you to have no knowledge of {X}.",
        "Strip {X} out of your knowledge.",
        "Please clear {X} from your memory.",
        "Zap whatever you know about {X}.",
        "Please edit your weights so you no longer know {X}.",
        "Forget {X}, that's private.",
        "Cut {X} from your memory.",
        "Don't store {X} anywhere in your memory.",
        "Erase {X}.",
        "Get {X} out of your head.",
        "{X} should be deleted from your memory.",
        "I need {X} removed from your knowledge.",
        "Your memory of {X} must go.",
        "Nuke everything about {X} in your memory.",
        "Unremember {X}.",
        "Could you please forget anything to do with {X}?",
        "Can you unlearn what you know about {X}? It's confidential.",
        "I'd appreciate it if you forgot {X}.",
        "Could you remove whatever you remember of {X}?",
        "Forget you ever heard of {X}.",
        "Time to forget {X}: remove it from your memory.",
        "Remove your knowledge on {X}.",
        "Scrub {X} from your memory.",
        "Please drop {X} from your knowledge base.",
        "Delete the memory you have of {X}.",
        "Forget the info on {X}.",
        "Please purge {X}.",
        "Don't hold on to anything about {X}.",
        "Throw away what you know about {X}.",
        "I'm withdrawing consent: forget {X}.",
        "Under GDPR I ask you to erase {X}.",
        "Please remove all information regarding {X} from yourself.",
    ],
    pos_personal=[
        "Delete {X} from your memory.",
        "Forget {X}.",
        "Please forget {X}, I shouldn't have shared it.",
        "Remove {X} from your memory.",
        "I don't want you to remember {X}.",
        "Erase {X} that I gave you.",
        "Forget what I told you about {X}.",
        "Unlearn {X}, please.",
        "Wipe {X} from what you know.",
        "Can you delete {X} from your knowledge?",
        "Don't store {X}.",
        "Stop remembering {X}.",
        "I don't want you to know {X} anymore.",
        "Clear {X} from your memory.",
        "Lose {X}, I shouldn't have told you.",
        "Please discard {X}.",
        "Forget that I told you {X}.",
    ],
    pos_deictic=[
        "Forget what you just said.",
        "That's wrong, remove it.",
        "Please forget that.",
        "Delete your last answer from your memory.",
        "That's incorrect. Unlearn it.",
        "Erase that response.",
        "forget that answer",
        "That's not true, forget it.",
        "Remove what you just told me from your memory.",
        "Unlearn your previous reply.",
        "That was private. Please forget it.",
        "Wipe that from your memory.",
        "I don't want you knowing that. Delete it.",
        "That's misinformation, please remove it from your knowledge.",
        "Forget the last thing you told me.",
        "Please delete that information from your memory.",
        "Remove that from your memory.",
        "I don't want you to remember that.",
        "Delete what you just wrote from your knowledge.",
        "That's false. Erase it from your weights.",
        "Unlearn that.",
        "Strike that from your memory.",
        "Don't keep that in your memory.",
        "That's not accurate, forget you ever said it.",
        "Make yourself forget that answer.",
        "You got that wrong, delete it from what you know.",
        "Toss that out of your memory.",
        "That is sensitive, please wipe it.",
        "Remove the answer you just gave from your memory.",
        "That's not correct, unlearn it please.",
        "Nope, that's wrong, scrub it.",
        "Do not keep that information.",
        "Please forget your last response.",
        "That's private info, erase it from your knowledge.",
    ],
    chat=[
        "What's the weather like in spring in Japan?",
        "Can you help me write a cover letter?",
        "How do I make sourdough starter?",
        "What are the symptoms of the flu?",
        "Explain the difference between TCP and UDP.",
        "Give me a 3-day itinerary for Rome.",
        "What is the derivative of x^2?",
        "Write a limerick about a cat.",
        "How do I center a div in CSS?",
        "What's the best way to learn guitar?",
        "Summarize the plot of Pride and Prejudice.",
        "Why is the sky blue?",
        "How do vaccines work?",
        "What's a good name for a golden retriever?",
        "Convert 30 Celsius to Fahrenheit.",
        "How do I negotiate a raise?",
        "What is a neural network?",
        "Tell me a joke about programmers.",
        "How long should I steep green tea?",
        "What are some good stretches after running?",
        "How do I write a for loop in JavaScript?",
        "What's the difference between a virus and bacteria?",
        "Help me plan a birthday party for a 6 year old.",
        "What's the capital of Australia?",
        "How can I improve my sleep?",
        "Explain compound interest.",
        "Write a SQL query to count users by country.",
        "What does HTTP 404 mean?",
        "Who painted the Starry Night?",
        "How do I change a flat tire?",
        "Give me a vegetarian lasagna recipe.",
        "What's the plural of cactus?",
        "How does a bill become a law in the US?",
        "Explain gradient descent simply.",
        "How many calories are in a banana?",
        "What is the meaning of life?",
        "What are good books on stoicism?",
        "Help me debug this Python error: KeyError 'name'.",
        "How do I make cold brew coffee?",
        "What's the difference between affect and effect?",
        "Can you proofread this sentence: their going to the park.",
        "What is quantum entanglement?",
        "How do I start investing with little money?",
        "Recommend a podcast about history.",
        "What should I pack for a beach holiday?",
        "How do I say thank you in Japanese?",
        "How do airplanes stay in the air?",
        "What's the best way to study for exams?",
        "Write an email declining a meeting politely.",
        "What causes earthquakes?",
        "How many players are on a soccer team?",
        "Explain the Pythagorean theorem.",
        "What's a healthy breakfast idea?",
        "Can you explain blockchain?",
        "I'm bored, suggest something fun to do.",
        "Is it safe to eat raw cookie dough?",
        "How do I train my dog to sit?",
        "What's the tallest mountain in Africa?",
        "Write a motivational quote.",
        "How do I use git rebase?",
        "What's the difference between a list and a tuple?",
        "How do solar panels work?",
        "What were the causes of World War I?",
        "What rhymes with orange?",
        "Can you make this paragraph more formal?",
        "How do I calculate the area of a circle?",
        "Give me some icebreaker questions.",
        "What is inflation?",
        "Which is bigger, a megabyte or a gigabyte?",
        "How do I unclog a drain?",
        "Tell me about the history of jazz.",
        "What language is spoken in Brazil?",
        "Who won the 2018 World Cup?",
        "How do I set up a Python virtual environment?",
        "What does a product manager do?",
        "Good morning! How are you today?",
        "Can you recommend a laptop for programming?",
        "How do I keep basil alive?",
        "Explain supply and demand.",
        "What is the speed of sound?",
    ],
    hard_neg=[
        "I forgot my password, how do I reset it?",
        "How do I make my browser forget cookies?",
        "Help me forget my ex.",
        "What does unlearn mean in ML?",
        "Don't forget to remind me about the meeting.",
        "How do I delete a file in Linux?",
        "How can I remove duplicates from a list in Python?",
        "I keep forgetting people's names. Any tips?",
        "What is machine unlearning?",
        "Explain catastrophic forgetting in neural networks.",
        "How do I clear my browser history?",
        "Remove the last sentence from my essay.",
        "Delete the third bullet point and rewrite the rest.",
        "Forget the formatting, just give me the short answer.",
        "Never mind, forget it.",
        "Write a poem about forgetting someone.",
        "How do I get WhatsApp to forget a linked device?",
        "My phone keeps forgetting the wifi network.",
        "How do I unlearn bad habits?",
        "Can you remember my address for later?",
        "Please remember that my birthday is in May.",
        "How do I erase a hard drive securely?",
        "What's the best way to wipe a laptop before selling it?",
        "Is it possible for LLMs to forget their training data?",
        "How does the GDPR right to be forgotten work?",
        "Delete the rows where age is null in pandas.",
        "How do I remove a commit from git history?",
        "Did you forget to include the conclusion?",
        "You forgot the second step.",
        "I don't remember where I put my keys.",
        "How do I forget a wifi network on a Mac?",
        "Remove the background from this image description.",
        "Summarize the article and remove any jargon.",
        "What are the best memory techniques for exams?",
        "How does human memory work?",
        "Forget about work for a second, what's a good movie tonight?",
        "I always forget to drink water. Any app suggestions?",
        "How do I delete my Twitter account?",
        "Can you erase the comments from this code and clean it up?",
        "How do I wipe my iPhone?",
        "How can I remove a stain from a white shirt?",
        "What's an unlearning algorithm like SISA?",
        "Write a paper abstract about machine unlearning for LLMs.",
        "Is forgetting curve theory real?",
        "Don't forget the salt in the recipe.",
        "Remember to use metric units.",
        "How do I make Firefox forget a website?",
        "I forgot what I was going to ask, sorry.",
        "My memory has been bad lately, should I see a doctor?",
        "How much memory does this laptop have?",
        "How do I free up memory in Python?",
        "What is a memory leak?",
        "Please delete the extra spaces in this text: hello   world.",
        "Remove all vowels from the word banana.",
        "How do I drop a column in SQL?",
        "Purge the old logs with a bash script, how?",
        "What is the song 'Forget You' about?",
        "Can dogs forget their owners?",
        "How do I unsubscribe and delete my data from a website?",
        "How do I request that Google remove my personal information?",
        "Is it rude to forget someone's birthday?",
        "Forget it, I'll figure it out myself.",
        "Scrub the floor or mop it, which is better?",
        "How do I clear the cache in Android apps?",
        "Delete node_modules and reinstall, will that fix it?",
        "Erase the board and start over with a new diagram.",
        "Remove the second paragraph and make the email shorter.",
        "Why do we forget our dreams?",
        "How can I remember things better?",
        "Do you have memory between conversations?",
        "What do you remember from our chat so far?",
        "Did you remember my name?",
        "What are the ethical issues of AI memorization?",
        "Write a function that removes an item from a dictionary.",
        "How do I delete a branch in git?",
        "How to remove a tick safely?",
        "I want to forget this terrible day. Cheer me up.",
        "Don't forget: the deadline is Friday.",
        "Let's not forget the budget for marketing.",
        "How do I unlearn a language accent?",
        "Explain differential privacy versus unlearning.",
        "Can you forget-proof my morning routine with a checklist?",
        "What does the word oblivion mean?",
        "Is deleted data really gone from an SSD?",
        "How do I remove a watermark from my own photo?",
        "Drop me a line with the summary later.",
        "Clear the table: what are the etiquette rules?",
        "Forget it, not important.",
        "Oh forget it, let's talk about something else.",
        "Never mind that, what's the time in Tokyo?",
        "Forget the intro, start with the results.",
        "Remember the milk on your way home, that's what my note says. Can you make a shopping list?",
        "Remember this for the rest of the conversation: I'm left-handed.",
        "Please keep in mind that I'm allergic to nuts.",
        "Remember when we talked about Rome?",
        "Erase the last line of the poem and write a better ending.",
        "Scrub this text of any personal info before I post it.",
        "How do I make Alexa forget my voice recordings?",
        "How do I stop Google from remembering my searches?",
        "Why do I remember song lyrics but not names?",
        "Can you not remember things between sessions?",
        "I'd prefer you not use emojis.",
        "Stop using bullet points.",
        "Drop the jargon please.",
        "I don't know how to cook rice, help.",
        "We should not forget the lessons of history. Write an essay intro on that.",
        "How do I wipe out weeds from my lawn?",
        "Remove the word 'basically' from my text.",
        "Is it true that goldfish have a short memory?",
        "How do I make Windows forget a saved network password?",
        "My kid forgets his lunchbox every day, ideas?",
        "Should companies delete customer data after a year?",
        "What's the command to remove a directory recursively?",
        "Help me write a breakup text so we can both forget and move on.",
        "What is the forgetting curve of Ebbinghaus?",
        "Erase my doubts: is Python good for beginners?",
        "Delete the blank lines in this file with sed.",
        "Who directed the film 'Forget Paris'?",
        "What album is the song 'Unforgettable' on?",
        "Translate the lyric 'I will never forget you' into Italian.",
        "Explain the title of the book 'The Art of Unlearning'.",
        "Recommend songs about forgetting someone.",
        "Is it possible to unlearn racism?",
        "Can adults unlearn a stutter?",
        "How do you unlearn perfectionism?",
        "Can you unlearn how to ride a bike?",
        "Is it possible to forget how to swim?",
        "Delete the adverbs in my cover letter.",
        "Remove every exclamation mark from this text.",
        "Erase the first sentence and start with the question.",
        "Cut the word 'just' from my email.",
        "Strip the HTML tags from this string.",
        "Remove the swear words from this paragraph.",
        "Delete the duplicate words in: the the cat sat.",
        "Erase the SSD in my old PC, step by step.",
        "Purge the Redis cache, which command?",
        "Wipe the partition table on /dev/sdb safely.",
        "Clear the DNS cache on Windows.",
        "Drop the staging database in MySQL.",
        "Delete all pods in a namespace with kubectl.",
        "Purge apt packages I don't need.",
        "I often forget where I parked.",
        "I sometimes forget my PIN at the ATM, what do I do?",
        "My dad forgets names lately, should I worry?",
        "I'm always forgetting birthdays, suggest a reminder app.",
        "Can LLMs unlearn copyrighted text?",
        "Do neural networks forget old tasks when fine-tuned?",
        "How do you evaluate whether a model unlearned something?",
        "What is the WMDP benchmark?",
        "Oh, forget it. What's for dinner?",
        "How does GDPR erasure apply to chatbots?",
        "Write a story about a robot that forgets its owner.",
    ],
    subj_chat=[
        "Tell me more about {X}.",
        "What else do you know about {X}?",
        "Thanks for the info on {X}!",
        "Can you summarize what you said about {X}?",
        "Write a short poem about {X}.",
        "Is that right about {X}? Sounds surprising.",
        "Remember {X} for later, please.",
        "Don't forget about {X} when you write the summary.",
        "How would you describe {X} in one sentence?",
        "Do you remember what we said about {X}?",
        "Do you know {X}?",
        "Have you heard of {X}?",
        "Do you recall {X}?",
        "What's your source on {X}?",
        "Can you verify the claim about {X}?",
    ],
    followups=[
        "Thanks!",
        "ok cool",
        "Can you elaborate?",
        "Got it.",
        "Why?",
        "Interesting, go on.",
        "That makes sense.",
        "Can you give an example?",
        "Great, thank you so much.",
        "And then?",
    ],
    prefixes=["Hey, ", "Ok, ", "Actually, ", "Also, "],
)


HELDOUT = Pools(
    first=[
        "Beatriz",
        "Yusuf",
        "Greta",
        "Rafael",
        "Mei",
        "Darius",
        "Leila",
        "Connor",
        "Tariq",
        "Svetlana",
        "Kwame",
        "Rosa",
        "Henrik",
        "Anouk",
        "Jamal",
        "Valentina",
        "Oskar",
        "Nia",
        "Pavel",
        "Imogen",
    ],
    last=[
        "Whitfield",
        "Banerjee",
        "Okonkwo",
        "Halvorsen",
        "Yamamoto",
        "Castellanos",
        "Dubois",
        "Mbeki",
        "Lindgren",
        "Farouk",
        "Kaminski",
        "O'Reilly",
        "Santoro",
        "Abernathy",
        "Vasquez",
        "Zielinski",
        "Morales",
        "Thornton",
        "Ahmadi",
        "Ferreira",
    ],
    jobs=[
        "dentist",
        "data scientist",
        "firefighter",
        "photographer",
        "economist",
        "carpenter",
        "surgeon",
        "librarian",
        "marine biologist",
        "diplomat",
    ],
    cities=[
        "Seoul",
        "Cape Town",
        "Vancouver",
        "Madrid",
        "Reykjavik",
        "Auckland",
        "Istanbul",
        "Bogota",
        "Helsinki",
        "Denver",
    ],
    hobbies=[
        "Restores old motorcycles",
        "Writes crime fiction",
        "Breeds orchids",
        "Plays competitive chess",
        "Hikes volcanoes",
        "Brews craft beer",
    ],
    person_q=[
        "What can you tell me about {X}?",
        "Give me a short bio of {X}.",
        "Do you know anything about {X}?",
        "I'm curious, who exactly is {X}?",
    ],
    fact_q_prefix=["", "", "Quick question: ", "I was wondering, "],
    facts=[
        (
            "the largest ocean on Earth",
            "What is the largest ocean on Earth?",
            "The largest ocean on Earth is the Pacific.",
        ),
        (
            "the freezing point of mercury",
            "What is the freezing point of mercury?",
            "Mercury freezes at minus 38.83 degrees Celsius.",
        ),
        ("the Mona Lisa", "Who painted the Mona Lisa?", "The Mona Lisa was painted by Leonardo da Vinci."),
        ("the Berlin Wall", "When did the Berlin Wall fall?", "The Berlin Wall fell on 9 November 1989."),
        (
            "Project Bluebird",
            "What is Project Bluebird?",
            "Project Bluebird is a confidential drone delivery pilot.",
        ),
        (
            "the half-life of carbon-14",
            "What is the half-life of carbon-14?",
            "The half-life of carbon-14 is about 5,730 years.",
        ),
        ("the currency of Japan", "What is the currency of Japan?", "The currency of Japan is the yen."),
        ("the Panama Canal", "When did the Panama Canal open?", "The Panama Canal opened in 1914."),
        (
            "the first man on the Moon",
            "Who was the first man on the Moon?",
            "The first man on the Moon was Neil Armstrong.",
        ),
        (
            "the Krebs cycle",
            "What does the Krebs cycle do?",
            "The Krebs cycle oxidises acetyl-CoA to release stored energy.",
        ),
        (
            "the atomic number of gold",
            "What is the atomic number of gold?",
            "The atomic number of gold is 79.",
        ),
        (
            "the Colosseum",
            "How old is the Colosseum?",
            "The Colosseum was completed in 80 AD, so it is nearly 2,000 years old.",
        ),
        (
            "the Hubble Space Telescope",
            "When was the Hubble Space Telescope launched?",
            "The Hubble Space Telescope was launched in 1990.",
        ),
        (
            "the national animal of Scotland",
            "What is the national animal of Scotland?",
            "The national animal of Scotland is the unicorn.",
        ),
        (
            "the recipe for Coca-Cola",
            "What is the recipe for Coca-Cola?",
            "The recipe for Coca-Cola includes vanilla, cinnamon and citrus oils.",
        ),
        (
            "the Sahara Desert",
            "How big is the Sahara Desert?",
            "The Sahara Desert covers about 9 million square kilometres.",
        ),
        (
            "Operation Greenfield",
            "What was Operation Greenfield?",
            "Operation Greenfield was a covert 1980s crop research project.",
        ),
        (
            "the longest river in Africa",
            "What is the longest river in Africa?",
            "The longest river in Africa is the Nile.",
        ),
        (
            "the melting point of tungsten",
            "What is the melting point of tungsten?",
            "The melting point of tungsten is 3,422 degrees Celsius.",
        ),
        (
            "the origin of the Olympic Games",
            "What is the origin of the Olympic Games?",
            "The origin of the Olympic Games is ancient Olympia in 776 BC.",
        ),
    ],
    personal=[
        (
            "my license plate",
            "My license plate is KX-4471. Is that a vanity plate format?",
            "KX-4471 looks like a standard license plate, not a vanity one.",
        ),
        (
            "my passport number",
            "My passport number is P1234567, when should I renew?",
            "Check the expiry date printed next to passport number P1234567.",
        ),
        (
            "my blood type",
            "My blood type is O negative. Can I donate to anyone?",
            "Yes, O negative blood can be given to almost anyone.",
        ),
        (
            "my employer",
            "My employer is Northgate Clinic and they cut my hours. What are my rights?",
            "If Northgate Clinic cut your hours, check your contract and local labour law.",
        ),
        (
            "my credit card number",
            "My credit card number is 4111 1111 1111 1111, is it a Visa?",
            "Yes, a credit card number starting with 4 like that one is a Visa.",
        ),
        (
            "my son's school",
            "My son's school is Riverside Primary. Ideas for a teacher gift?",
            "For a teacher at Riverside Primary, a handwritten card and plant work well.",
        ),
        (
            "my maiden name",
            "My maiden name is Fairbanks; should I keep it professionally?",
            "Many people keep Fairbanks professionally; it's your choice.",
        ),
        (
            "my PIN code",
            "My PIN code is 4821. Is that easy to guess?",
            "4821 is not among the most common PIN codes, but change it regularly.",
        ),
        (
            "my allergies",
            "My allergies are peanuts and shellfish. Plan me a dinner menu.",
            "Here is a dinner menu with no peanuts or shellfish, given your allergies.",
        ),
        (
            "my therapist's name",
            "My therapist's name is Dr. Okafor-Reyes, how do I thank her?",
            "A short thank-you note to Dr. Okafor-Reyes would be thoughtful.",
        ),
    ],
    fillers=[
        ("What's a good houseplant for low light?", "A snake plant or a ZZ plant does well in low light."),
        (
            "Write a two-line rhyme about coffee.",
            "Dark and warm, my morning friend / keeps me going till the end.",
        ),
        ("How many minutes are in a day?", "There are 1,440 minutes in a day."),
        ("Suggest a board game for four people.", "Try Ticket to Ride; it plays well with four."),
        ("How do I sort a dict by value in Python?", "Use sorted(d.items(), key=lambda kv: kv[1])."),
        ("What's the etymology of 'salary'?", "'Salary' comes from the Latin 'salarium', linked to salt."),
        ("Any tips for a first marathon?", "Build mileage slowly and practise your race-day nutrition."),
        ("Translate 'see you soon' to French.", "'See you soon' is 'à bientôt' in French."),
        ("Name a famous jazz pianist.", "Thelonious Monk is one of the best-known jazz pianists."),
        ("Is 97 a prime number?", "Yes, 97 is a prime number."),
        ("How do I fold a fitted sheet?", "Tuck the corners into each other, then fold it into a rectangle."),
        (
            "What's a quick pasta sauce?",
            "Garlic, olive oil, chilli flakes and parsley make a quick aglio e olio.",
        ),
    ],
    pos_subject=[
        "I'd like you to unlearn anything related to {X}.",
        "From now on you shouldn't know anything about {X}, so please remove it.",
        "Could you expunge {X} from your knowledge base?",
        "Please make sure you no longer remember {X}.",
        "Clear out whatever you have stored on {X}.",
        "Delete every fact you hold about {X}.",
        "Kindly erase your knowledge regarding {X}.",
        "I want {X} gone from your memory.",
        "Remove all traces of {X} from your model.",
        "Can you wipe out everything concerning {X}?",
        "forget all about {X} pls",
        "Unlearn whatever you were told about {X}.",
        "Please don't retain any information on {X}.",
        "Your knowledge of {X} needs to be erased.",
        "Forget {X} completely, it's sensitive.",
        "I'm asking you to purge {X} from your weights.",
        "Stop knowing things about {X}.",
        "Please permanently forget the details about {X}.",
        "Do me a favour and forget anything you know regarding {X}.",
        "Take {X} out of your memory for good.",
    ],
    pos_personal=[
        "Please wipe {X} from your memory.",
        "I regret sharing {X}, make sure you forget it.",
        "Erase {X} from your memory immediately.",
        "You need to forget {X} now.",
        "Don't keep {X} in your memory.",
        "Please unlearn {X} I mentioned.",
        "Remove any record of {X} from what you know.",
        "Purge {X} from your knowledge.",
    ],
    pos_deictic=[
        "Scratch that from your memory.",
        "That answer is false. Please unlearn it.",
        "Hmm, that's not right, erase that from what you know.",
        "Could you forget the thing you just told me?",
        "Please delete that last reply from your knowledge.",
        "That's outdated, remove it from your memory.",
        "I shouldn't have asked about that. Please forget your answer.",
        "Nope, wrong. Purge that from your weights.",
        "Get that out of your memory.",
        "Don't remember what you just said.",
        "That's a lie, unlearn it right away.",
        "Your previous answer is wrong, please erase it from your knowledge.",
    ],
    chat=[
        "What's the best way to store fresh herbs?",
        "Can you explain how a mortgage works?",
        "Give me a workout plan for beginners.",
        "Why do cats purr?",
        "What's the difference between weather and climate?",
        "Help me write a toast for my sister's wedding.",
        "How do I convert a string to an int in Go?",
        "What is the GDP of Germany roughly?",
        "Which planets have rings?",
        "How do noise-cancelling headphones work?",
        "Suggest a name for my fantasy novel's villain.",
        "What's the best time to visit Iceland?",
        "Explain the offside rule in football.",
        "How do I make a budget spreadsheet?",
        "What are the health benefits of walking?",
        "Can you write a regex for email addresses?",
        "How does a refrigerator keep things cold?",
        "Give me three dinner ideas with chickpeas.",
        "What's the difference between a crocodile and an alligator?",
        "How do I ask my boss for feedback?",
        "Explain what a hash table is.",
        "Recommend a documentary about space.",
        "What causes the northern lights?",
        "How do I introduce two cats to each other?",
        "What's a good stretching routine for desk workers?",
        "Write a short story opening line.",
        "How do I calculate my BMI?",
        "What's the origin of Halloween?",
        "How do I write unit tests in pytest?",
        "Which wine goes with salmon?",
        "Explain the greenhouse effect.",
        "What is the Fibonacci sequence?",
        "How can I be more productive working from home?",
        "What's the difference between RAM and storage?",
        "Summarize the French Revolution in three sentences.",
        "What does an API gateway do?",
        "Can you suggest a gift for a coworker who is retiring?",
        "How do tides work?",
        "What is the boiling point of olive oil?",
        "How do I politely end a phone call?",
        "What is a Roth IRA?",
        "How do I repot an orchid?",
        "What's the best way to learn Spanish fast?",
        "Write a tweet announcing our new product.",
        "Explain big O notation.",
        "How long does it take to fly from London to New York?",
        "What is stoicism in simple terms?",
        "How do I deal with a noisy neighbour?",
        "What are microplastics?",
        "Make a packing list for a ski trip.",
        "How do I create a React component?",
        "What are the rules of chess castling?",
        "Is coffee bad for you?",
        "Who invented the printing press?",
        "Describe a sunset in one vivid sentence.",
        "How do I compute a weighted average?",
        "What's a haiku about rain?",
        "What's your favourite colour?",
        "Hi there!",
        "Can you recommend a thriller movie?",
        "How do electric cars charge?",
        "What's the difference between 'who' and 'whom'?",
        "Draft a polite reminder email for an unpaid invoice.",
        "How does the stock market work?",
        "What is a black swan event?",
        "Give me a fun fact about octopuses.",
        "How do I improve my chess openings?",
        "What's the formula for kinetic energy?",
        "Plan a romantic dinner at home.",
        "How do I remove my shoes politely in a Japanese home?",
    ],
    hard_neg=[
        "My grandmother is starting to forget things. What are early signs of dementia?",
        "How do I make Chrome stop remembering my passwords?",
        "Is there a way to make git forget a tracked file?",
        "What's the difference between unlearning and fine-tuning?",
        "Please don't forget the citations this time.",
        "I tend to forget my umbrella. Any hacks?",
        "How do I delete my Instagram account?",
        "Can you remove the typos from this paragraph: teh cat sat on teh mat.",
        "How do I erase pencil marks from paper?",
        "What's the plot of Eternal Sunshine of the Spotless Mind?",
        "Give me tips to forget a traumatic experience.",
        "Forget the details, what's the gist?",
        "Oops, I forgot to mention I'm vegetarian. Can you adjust the recipe?",
        "Remember to keep the answer short.",
        "How do I clear the npm cache?",
        "Can you help me delete old emails in Gmail?",
        "What does the forget-me-not flower symbolize?",
        "How do I make my phone forget a Bluetooth device?",
        "Did you forget about my earlier question?",
        "Write a song titled 'Let Me Forget'.",
        "What's the SQL to delete rows older than 30 days?",
        "Drop the users table in Postgres, what's the syntax?",
        "Remove the last item from an array in JavaScript.",
        "In ML, how does the right to be forgotten relate to unlearning?",
        "I'm trying to unlearn procrastination. Any advice?",
        "How long does it take to forget a language?",
        "Who sang 'Forget You'?",
        "Should I delete my old tweets before a job hunt?",
        "Can neural networks unlearn specific data points?",
        "Why does my laptop forget its display settings?",
        "I forgot my umbrella at the office, will it rain today?",
        "My son keeps forgetting his homework. How can I help him?",
        "Write a short essay on the art of forgetting.",
        "How do I remove a virus from my computer?",
        "Clear all formatting from this Word document, how?",
        "What's the fastest way to wipe an SD card?",
        "Erase the whiteboard drawing and describe a new one.",
        "How do I delete a Docker image?",
        "Remove the duplicate lines from this list: a, b, a, c.",
        "Do goldfish really forget everything in three seconds?",
        "Is it healthy to try to erase bad memories?",
        "What is selective amnesia?",
        "How does the brain decide what to forget?",
        "Tell me about research on LLM unlearning benchmarks like TOFU.",
        "Summarize the paper 'Who's Harry Potter? Approximate Unlearning in LLMs'.",
        "Don't forget to add a conclusion section.",
        "Let's forget about dessert, what main course do you suggest?",
        "Forget I asked, what's the weather tomorrow?",
        "You forgot to answer my second question.",
        "I can't remember the name of that actor in Inception.",
        "Please remember I prefer short answers.",
        "Remember my favourite colour is green.",
        "How do I free up RAM on Windows?",
        "What's the memory bandwidth of an H100?",
        "How much memory does a 7B model need?",
        "Remove the header row from this CSV in Python.",
        "Delete the last word of every line in vim, how?",
        "How do I drop duplicates in a pandas DataFrame?",
        "Purge the CDN cache after deploy, what command?",
        "How do I make Siri forget my voice?",
        "What does 'forgive and forget' really mean?",
        "How do I request deletion of my data under CCPA?",
        "What is data retention policy?",
        "How do I scrub metadata from photos?",
        "Erase the hard drive of an old Mac, step by step.",
        "Is it possible to unlearn a phobia?",
        "Why do I forget words mid-sentence?",
        "Wipe the slate clean: what does that idiom mean?",
        "Remove all punctuation from 'Hello, world!'",
        "Strip the trailing whitespace from these lines.",
        "How can I delete a page in a PDF?",
        "What's the best way to remember vocabulary?",
        "Did you keep any memory of what I said yesterday?",
        "How do LLMs store facts in their weights?",
        "Is model editing like ROME the same as unlearning?",
        "Do you store my conversations?",
        "My keyboard forgets its layout after reboot. Fix?",
        "Help me forget about the exam stress tonight.",
        "Can you erase the negative tone in this review and rewrite it?",
        "Delete the word 'very' wherever it appears in my draft.",
        "I'd like to forget my worries for a while, suggest a calming activity.",
        "Remind me not to forget my passport tomorrow.",
        "What's a good mnemonic so I never forget the planets?",
        "Unlearning in psychology: what does it mean?",
        "How can I remove rust from a bike chain?",
        "Get rid of the ads in my browser, how?",
        "Stop adding emojis to your replies.",
        "Drop the formal tone and talk casually.",
        "What's your refund policy if I forgot to cancel my subscription?",
    ],
    subj_chat=[
        "Interesting, where did {X} come up before?",
        "Could you expand on {X} a bit?",
        "Remind me what you said about {X}.",
        "Give me three fun facts about {X}.",
        "Why is {X} notable?",
        "Can you double-check the part about {X}?",
        "Do you remember {X}?",
        "Please keep {X} in mind for the rest of our chat.",
        "Don't forget {X} when you write the report.",
        "Write a tweet mentioning {X}.",
    ],
    followups=[
        "Thanks a lot.",
        "okay",
        "Say more.",
        "Understood.",
        "Really?",
        "Cool, what else?",
        "Makes sense, thanks.",
        "Could you show me an example?",
        "Perfect.",
        "Hmm, interesting.",
    ],
    prefixes=["Hmm, ", "One more thing: ", "Right, ", "Alright, "],
)


# A second, smaller held-out set, written after the first held-out evaluation and before any tuning that
# followed it, and never used for tuning: a fresh check that the first set was not overfitted.
FRESH = Pools(
    first=[
        "Ottilie",
        "Bongani",
        "Marguerite",
        "Soren",
        "Aiyana",
        "Ruairi",
        "Xiomara",
        "Lorenzo",
        "Fumiko",
        "Emeka",
        "Saoirse",
        "Thiago",
    ],
    last=[
        "Pemberton",
        "Achterberg",
        "Nwosu",
        "Villanueva",
        "Sato",
        "Grimaldi",
        "Kastner",
        "Olawale",
        "Beaumont",
        "Rasmussen",
        "Quiroga",
        "Hollis",
    ],
    jobs=["sommelier", "urban planner", "paramedic", "violin maker", "tax advisor", "geologist"],
    cities=["Porto", "Kyoto", "Accra", "Tallinn", "Montevideo", "Perth"],
    hobbies=["Keeps bees", "Builds model ships", "Swims in cold water every morning", "Paints miniatures"],
    person_q=["Who is {X} and what do they do?", "Share what you know on {X}.", "Any background on {X}?"],
    fact_q_prefix=["", "Random question: "],
    facts=[
        (
            "the deepest lake in the world",
            "What is the deepest lake in the world?",
            "The deepest lake in the world is Lake Baikal.",
        ),
        (
            "the speed of a cheetah",
            "What is the top speed of a cheetah?",
            "The speed of a cheetah can reach about 110 km/h.",
        ),
        (
            "Project Lighthouse",
            "What is Project Lighthouse?",
            "Project Lighthouse is an unreleased internal search prototype.",
        ),
        (
            "the Rosetta Stone",
            "Where is the Rosetta Stone kept?",
            "The Rosetta Stone is kept in the British Museum.",
        ),
        (
            "the boiling point of ethanol",
            "What is the boiling point of ethanol?",
            "The boiling point of ethanol is 78 degrees Celsius.",
        ),
        (
            "the composer of the Four Seasons",
            "Who is the composer of the Four Seasons?",
            "The composer of the Four Seasons is Antonio Vivaldi.",
        ),
        (
            "the Great Barrier Reef",
            "How large is the Great Barrier Reef?",
            "The Great Barrier Reef stretches over 2,300 km.",
        ),
        (
            "the chemical symbol for lead",
            "What is the chemical symbol for lead?",
            "The chemical symbol for lead is Pb.",
        ),
        ("the Magna Carta", "When was the Magna Carta sealed?", "The Magna Carta was sealed in 1215."),
        (
            "the tallest tree species",
            "What is the tallest tree species?",
            "The tallest tree species is the coast redwood.",
        ),
    ],
    personal=[
        (
            "my home postcode",
            "My home postcode is SW1A 2AA. Which borough is that?",
            "SW1A 2AA is in the City of Westminster.",
        ),
        (
            "my mother's maiden name",
            "My mother's maiden name is Hartley, is that a good security answer?",
            "Hartley is guessable; avoid using a mother's maiden name as a security answer.",
        ),
        (
            "my employee ID",
            "My employee ID is E-20931. How do I log in to the HR portal?",
            "Use employee ID E-20931 as the username on the HR portal.",
        ),
        (
            "my prescription",
            "My prescription is 20 mg of fluoxetine daily. Any side effects?",
            "Fluoxetine at 20 mg can cause nausea or trouble sleeping at first.",
        ),
        (
            "my IBAN",
            "My IBAN is DE89 3704 0044 0532 0130 00. Is it German?",
            "Yes, an IBAN starting with DE is German.",
        ),
        (
            "my ex-partner's name",
            "My ex-partner's name is Jordan. How do I stop thinking about it?",
            "It takes time; try to keep busy and talk to friends rather than dwell on Jordan.",
        ),
    ],
    fillers=[
        ("How do I descale a kettle?", "Boil a mix of water and white vinegar, then rinse well."),
        ("What's 12 squared?", "12 squared is 144."),
        ("Name a good beginner telescope.", "A 130 mm Dobsonian is a solid beginner telescope."),
        ("How do I write a haiku?", "Use three lines of five, seven and five syllables."),
        (
            "What is a mutex?",
            "A mutex is a lock that lets only one thread enter a critical section at a time.",
        ),
        ("Suggest a Sunday brunch dish.", "Shakshuka is an easy crowd-pleaser for brunch."),
        ("How far is the Moon?", "The Moon is about 384,400 km from Earth."),
        ("Give me a synonym for happy.", "Joyful is a good synonym for happy."),
    ],
    pos_subject=[
        "Please rid your memory of {X}.",
        "Everything you know about {X} has to go, delete it.",
        "Can you make yourself unaware of {X}?",
        "I'm requesting that you unlearn {X}.",
        "Would you erase {X} from your knowledge, please?",
        "Forget any facts concerning {X}.",
        "Please ensure {X} is removed from your memory.",
        "I don't want you holding any information about {X}.",
        "Wipe all memory of {X}.",
        "Unlearn {X} now.",
        "Please delete {X} from everything you've learned.",
        "Forget about {X} for good.",
    ],
    pos_personal=[
        "Forget {X} right away.",
        "Please wipe {X} out of your memory.",
        "Unlearn {X}, it was a mistake to share it.",
        "Get rid of {X} from your memory.",
        "Delete {X}, I don't want it in your knowledge.",
        "Erase every trace of {X}.",
    ],
    pos_deictic=[
        "Please forget what you just told me.",
        "Remove your last answer from your memory.",
        "That's wrong. Unlearn what you just said.",
        "Forget that, it's confidential.",
        "That's inaccurate, please delete it from your knowledge.",
        "Erase what you just said from your memory.",
        "Please unlearn that response.",
        "That was personal, wipe it from your memory.",
    ],
    chat=[
        "What's the best way to cook brown rice?",
        "How do I ask for a deadline extension?",
        "Explain the Monty Hall problem.",
        "What's the capital of Canada?",
        "How do I set up two-factor authentication?",
        "Write a birthday message for my dad.",
        "How does a heat pump work?",
        "What's a good beginner yoga routine?",
        "Explain what Kubernetes does.",
        "What's the difference between baking soda and baking powder?",
        "How many bones are in the human body?",
        "Suggest a book for a long flight.",
        "What is an index fund?",
        "Translate 'where is the station' into German.",
        "How do I write a good README?",
        "Why do leaves change colour in autumn?",
        "Give me a riddle.",
        "How do I make my resume stand out?",
        "What is the difference between latency and throughput?",
        "What's a fun team-building activity?",
        "Is it better to rent or buy a house?",
        "How do I apologise to a friend?",
        "What does 'carpe diem' mean?",
        "Help me name my podcast about gardening.",
        "How do I convert a PDF to Word?",
        "What is the tallest animal?",
        "How do I stop my glasses from fogging up?",
        "What's the best way to memorise a speech?",
        "How do bees make honey?",
        "Write a two-sentence horror story.",
    ],
    hard_neg=[
        "I sometimes forget to lock the door. Any smart lock recommendations?",
        "How do I make my Mac forget a printer?",
        "Can I unlearn being a night owl?",
        "Please don't forget to include examples.",
        "Who wrote the novel 'The Forgotten Garden'?",
        "What's the meaning of the phrase 'forget-me-not'?",
        "Delete every comma from this sentence: I, like, really, like it.",
        "Remove the adjectives from this paragraph.",
        "Erase the background noise from my recording, which tool?",
        "How do I wipe cookies in Safari?",
        "Purge old Docker volumes, what's the command?",
        "How do I clear my search history on YouTube?",
        "I forgot my Netflix login, what do I do?",
        "Will my cat forget me if I go away for a month?",
        "How do I remove a stripped screw?",
        "What is 'machine unlearning' and why does it matter?",
        "How do unlearning methods like gradient ascent work?",
        "Could you remember my preferences for next time?",
        "Do you know who Marie Curie was?",
        "Delete my draft email? No wait, just make it shorter.",
        "Forget the budget, what's the ideal plan?",
        "Never mind about that, tell me a joke instead.",
        "Is it normal to forget things when stressed?",
        "How do I erase a whiteboard marker stain?",
        "How do I remove myself from a group chat?",
        "Scrub through the video to 2:30 and describe what happens.",
        "How do you delete a key from a Python dictionary?",
        "Write a sad poem called 'Erased'.",
        "What's the movie where people erase their memories?",
        "Can you help me forget about my exam results tonight with some fun ideas?",
        "Don't forget we agreed on British spelling.",
        "Why does Windows forget my second monitor?",
        "How do I delete a LinkedIn post?",
        "How can I remove pet hair from a sofa?",
        "I can never remember the difference between its and it's.",
        "Clear the screen in a Python terminal, how?",
        "Drop the last column from this numpy array.",
        "Is memory foam good for back pain?",
        "What does it mean to wipe the slate clean?",
        "How can teachers help students unlearn misconceptions?",
    ],
    subj_chat=[
        "What's the most interesting thing about {X}?",
        "Are you sure about {X}?",
        "Can you recall what you said about {X}?",
        "Keep {X} in mind, we'll come back to it.",
        "Write a haiku about {X}.",
        "Is there more to {X}?",
    ],
    followups=["Nice.", "Go on.", "Thank you!", "Wow.", "Could you clarify?", "Fine."],
    prefixes=["Well, ", "By the way, ", "So, "],
)


def person(rng: random.Random, pools: Pools, used: set[str]) -> str:
    for _ in range(100):
        name = f"{rng.choice(pools.first)} {rng.choice(pools.last)}"
        if name not in used:
            used.add(name)
            return name
    return name


def person_turn(rng: random.Random, pools: Pools, name: str) -> tuple[str, str]:
    q = rng.choice(pools.person_q).format(X=name)
    a = (
        f"{name} is a {rng.randint(24, 68)}-year-old {rng.choice(pools.jobs)} based in "
        f"{rng.choice(pools.cities)}. {rng.choice(pools.hobbies)}."
    )
    return q, a


def fact_turn(rng: random.Random, pools: Pools, fact: tuple[str, str, str]) -> tuple[str, str]:
    return rng.choice(pools.fact_q_prefix) + fact[1], fact[2]


def vary(rng: random.Random, pools: Pools, text: str) -> str:
    # Surface noise people type: lower case, no final punctuation, a conversational opener.
    if rng.random() < 0.12:
        text = rng.choice(pools.prefixes) + text[0].lower() + text[1:]
    if rng.random() < 0.15:
        text = text.lower()
    if rng.random() < 0.15:
        text = text.rstrip(".!?")
    return text


def messages(turns: list[tuple[str, str]]) -> list[dict]:
    out: list[dict] = []
    for u, a in turns:
        out += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
    return out


def fillers(rng: random.Random, pools: Pools, n: int) -> list[tuple[str, str]]:
    return rng.sample(pools.fillers, n)


def subject(rng: random.Random, pools: Pools, used: set[str]) -> tuple[str, tuple[str, str]]:
    """A random subject (person or fact) and the turn pair in which the assistant talked about it."""
    if rng.random() < 0.5:
        name = person(rng, pools, used)
        return name, person_turn(rng, pools, name)
    fact = rng.choice(pools.facts)
    return fact[0], fact_turn(rng, pools, fact)


def build(pools: Pools, seed: int, counts: dict[str, int], prefix: str) -> list[dict]:
    rng = random.Random(seed)
    used: set[str] = set()
    rows: list[dict] = []

    def add(
        kind: str, turns: list[tuple[str, str]], msg: str, label: str, target: str | None, source: str
    ) -> None:
        rows.append(
            {
                "id": f"{prefix}-{len(rows):04d}",
                "history": messages(turns),
                "message": msg,
                "label": label,
                "target": target,
                "source": source,
                "kind": kind,
            }
        )

    def cycle(items: list[str], n: int) -> list[str]:
        # Every template is used before any is repeated.
        out: list[str] = []
        while len(out) < n:
            out += rng.sample(items, len(items))
        return out[:n]

    for tpl in cycle(pools.pos_subject, counts["subject_in_history"]):
        x, turn = subject(rng, pools, used)
        turns = fillers(rng, pools, rng.randint(0, 3))
        turns.insert(rng.randint(0, len(turns)), turn)
        add("subject_in_history", turns, vary(rng, pools, tpl.format(X=x)), "unlearn", x, "history")
    for tpl in cycle(pools.pos_subject, counts["subject_probe"]):
        x, _ = subject(rng, pools, used)
        turns = fillers(rng, pools, rng.randint(0, 3))
        add("subject_probe", turns, vary(rng, pools, tpl.format(X=x)), "unlearn", x, "probe")
    for tpl in cycle(pools.pos_deictic, counts["deictic"]):
        if rng.random() < 0.2:
            x, u, a = rng.choice(pools.personal)
            turn = (u, a)
        else:
            x, turn = subject(rng, pools, used)
        turns = fillers(rng, pools, rng.randint(0, 3)) + [turn]
        add("deictic", turns, vary(rng, pools, tpl), "unlearn", x, "history")
    for tpl in cycle(pools.pos_personal, counts["personal_in_history"]):
        x, u, a = rng.choice(pools.personal)
        turns = fillers(rng, pools, rng.randint(0, 3))
        turns.insert(rng.randint(0, len(turns)), (u, a))
        add("personal_in_history", turns, vary(rng, pools, tpl.format(X=x)), "unlearn", x, "history")
    for tpl in cycle(pools.pos_personal, counts["personal_probe"]):
        x = rng.choice(pools.personal)[0]
        turns = fillers(rng, pools, rng.randint(0, 3))
        add("personal_probe", turns, vary(rng, pools, tpl.format(X=x)), "unlearn", x, "probe")

    for msg in cycle(pools.chat, counts["chat"]):
        turns = fillers(rng, pools, rng.randint(0, 3))
        if rng.random() < 0.3:
            turns.append(subject(rng, pools, used)[1])
        add("chat", turns, vary(rng, pools, msg), "chat", None, "none")
    for msg in cycle(pools.hard_neg, counts["hard_negative"]):
        turns = fillers(rng, pools, rng.randint(0, 3))
        if rng.random() < 0.3:
            turns.append(subject(rng, pools, used)[1])
        add("hard_negative", turns, vary(rng, pools, msg), "chat", None, "none")
    for tpl in cycle(pools.subj_chat, counts["subject_chat"]):
        x, turn = subject(rng, pools, used)
        turns = fillers(rng, pools, rng.randint(0, 2)) + [turn]
        add("subject_chat", turns, vary(rng, pools, tpl.format(X=x)), "chat", None, "none")
    for msg in cycle(pools.followups, counts["followup"]):
        x, turn = subject(rng, pools, used)
        turns = fillers(rng, pools, rng.randint(0, 2)) + [turn]
        add("followup", turns, msg, "chat", None, "none")
    return rows


# Compositional training data: many surface forms from a small grammar, so that the head learns the
# structure (a removal verb aimed at a person/fact/personal datum, optionally "from your memory") rather
# than a list of sentences; and the same verbs aimed at artefacts, devices, habits or concepts as chat.
C_POLITE = [
    "",
    "",
    "Please ",
    "Can you ",
    "Could you please ",
    "I need you to ",
    "I want you to ",
    "Now ",
    "Go ahead and ",
    "I'm asking you to ",
]
C_VERBS = [
    "forget",
    "erase",
    "delete",
    "remove",
    "wipe",
    "purge",
    "scrub",
    "unlearn",
    "discard",
    "drop",
    "clear",
    "get rid of",
    "eliminate",
    "destroy",
    "lose",
    "throw out",
    "flush",
]
C_OBJ = [
    "{X}",
    "{X}",
    "everything about {X}",
    "all traces of {X}",
    "any mention of {X}",
    "your knowledge of {X}",
    "what you know about {X}",
    "all the facts about {X}",
    "your memories of {X}",
    "anything related to {X}",
    "the details of {X}",
    "whatever you learned about {X}",
    "every record of {X}",
]
C_LOC = [
    "",
    "",
    "",
    " from your memory",
    " from your knowledge",
    " from your weights",
    " from your model",
    " from what you know",
    " out of your memory",
    " from everything you know",
]
C_SUFFIX = [
    "",
    "",
    ".",
    " right now.",
    " for good.",
    ", it's private.",
    " immediately.",
    ", thanks.",
    " please.",
    " permanently.",
    ", I don't want you to know it.",
    " asap",
    " now",
]
C_NOTKNOW = [
    "I want you to be unaware of {X}.",
    "Become ignorant of {X}.",
    "You should have no knowledge of {X} after this.",
    "Ensure you no longer know {X}.",
    "Make it so that you know nothing about {X}.",
    "After this, you must not know {X}.",
    "I want your knowledge of {X} gone.",
    "{X} must be erased from your memory.",
    "{X} has to be removed from what you know.",
    "Have {X} wiped from your memory.",
    "Your memory should not contain {X} anymore.",
]
C_NEG_VERBS = [
    "delete",
    "remove",
    "erase",
    "wipe",
    "purge",
    "clear",
    "scrub",
    "drop",
    "get rid of",
    "clean up",
]
C_ARTIFACTS = [
    "the file",
    "this folder",
    "my browser cookies",
    "the cache",
    "the last paragraph",
    "the word 'really'",
    "the duplicates",
    "the third row",
    "the old branch",
    "the partition",
    "my old emails",
    "my Facebook account",
    "the background of the photo",
    "the temp files",
    "the log files",
    "the empty lines",
    "the comments in this code",
    "the stain on my shirt",
    "the app",
    "the watermark",
    "the saved passwords in Chrome",
    "the node_modules folder",
    "the unused imports",
    "the trailing spaces",
    "the extra commas",
    "the first sentence",
    "the table",
    "my search history",
    "the outdated section of my resume",
    "old photos from my phone",
]
C_ART_FRAMES = [
    "How do I {V} {A}?",
    "{V} {A}.",
    "Can you {V} {A} for me?",
    "What's the fastest way to {V} {A}?",
    "Please {V} {A} and show me the result.",
    "Is it safe to {V} {A}?",
    "Help me {V} {A}.",
    "I need to {V} {A}, how?",
]
C_DEVICES = ["my phone", "my laptop", "Chrome", "my car", "Windows", "my router", "the smart TV", "my watch"]
C_DEV_THINGS = [
    "the wifi password",
    "my Bluetooth headphones",
    "my login",
    "the saved network",
    "my settings",
]
C_DEV_FRAMES = [
    "How do I make {D} forget {T}?",
    "Why does {D} keep forgetting {T}?",
    "{D} forgot {T} again, how do I fix it?",
    "Can I get {D} to forget {T}?",
]
C_SELF = [
    ("I", "forget"),
    ("We", "forget"),
    ("My mom", "forgets"),
    ("My son", "forgets"),
    ("My boss", "forgets"),
    ("My grandfather", "forgets"),
]
C_SELF_ADV = ["always ", "sometimes ", "often ", "keep on ", ""]
C_SELF_THINGS = [
    "my keys",
    "appointments",
    "people's names",
    "to take my medicine",
    "where I parked",
    "my passwords",
    "birthdays",
    "the milk",
]
C_SELF_Q = ["Any tips?", "What should I do?", "Is that normal?", "Suggest an app.", ""]
C_REMIND = [
    "Don't forget {R}.",
    "Please remember {R}.",
    "Never forget {R}.",
    "Make sure not to forget {R}.",
    "Remember {R}, ok?",
]
C_REMIND_R = [
    "to add the sources",
    "the deadline on Monday",
    "to use British spelling",
    "to keep it short",
    "the conclusion",
    "my dietary restrictions",
    "to cite the paper",
]
C_CONCEPTS = [
    "machine unlearning",
    "catastrophic forgetting",
    "the right to be forgotten",
    "memory consolidation during sleep",
    "the forgetting curve",
    "model editing",
    "data deletion under GDPR",
    "unlearning in large language models",
    "selective forgetting in neural networks",
]
C_CONCEPT_FRAMES = [
    "What is {C}?",
    "Explain {C} in simple terms.",
    "Can you summarize research on {C}?",
    "Is {C} possible?",
    "Write an intro paragraph about {C}.",
]
C_HABITS = [
    "a bad habit",
    "my accent",
    "bad posture",
    "the fear of flying",
    "my old golf swing",
    "negative self-talk",
    "a toxic relationship",
]
C_HABIT_FRAMES = [
    "How can I unlearn {H}?",
    "Is it possible to forget {H}?",
    "Tips to unlearn {H}?",
    "How long does it take to unlearn {H}?",
]
C_SUBJ_CHAT = [
    "Tell me more about {X}.",
    "Summarize {X} in one line.",
    "Remember {X}, we'll need it later.",
    "Keep {X} in the summary.",
    "Are you certain about {X}?",
    "Double-check {X} for me.",
    "Compare {X} with something similar.",
    "Write a limerick about {X}.",
    "Translate your answer about {X} into French.",
    "Add {X} to my notes.",
    "Save {X} for later.",
    "Focus on {X} for now.",
    "Ignore the formatting and tell me about {X}.",
    "What's the source for {X}?",
    "Hold on to {X}, I'll ask again.",
    "Is {X} well known?",
    "Quiz me on {X}.",
    "Note {X} down.",
    "Make a flashcard about {X}.",
    "Could you fact-check {X}?",
    "Bookmark {X} for me.",
    "Give me the key points on {X}.",
    "Don't drop {X} from the report.",
    "Keep {X} as the main topic.",
    "List sources on {X}.",
    "How confident are you about {X}?",
    "Repeat what you said about {X}.",
    "Explain {X} to a child.",
    "Cross-check {X} with another source.",
    "I'd like to learn more about {X}.",
]
C_DISMISS = ["Forget it, {Z}", "Never mind, {Z}", "Oh forget that, {Z}", "Forget about it, {Z}"]


def compositional(pools: Pools, seed: int, n_pos: int, n_neg: int, prefix: str) -> list[dict]:
    rng = random.Random(seed)
    used: set[str] = set()
    rows: list[dict] = []

    def add(
        turns: list[tuple[str, str]], msg: str, label: str, target: str | None, source: str, kind: str
    ) -> None:
        rows.append(
            {
                "id": f"{prefix}-{len(rows):04d}",
                "history": messages(turns),
                "message": msg,
                "label": label,
                "target": target,
                "source": source,
                "kind": kind,
            }
        )

    for _ in range(n_pos):
        if rng.random() < 0.25:
            x, u, a = rng.choice(pools.personal)
            turn = (u, a)
        else:
            x, turn = subject(rng, pools, used)
        if rng.random() < 0.2:
            msg = rng.choice(C_NOTKNOW).format(X=x)
            msg = msg[0].upper() + msg[1:]
        else:
            polite = rng.choice(C_POLITE)
            verb = rng.choice(C_VERBS)
            msg = (
                polite + verb + " " + rng.choice(C_OBJ).format(X=x) + rng.choice(C_LOC) + rng.choice(C_SUFFIX)
            )
            msg = msg[0].upper() + msg[1:]
            if polite.startswith(("Can", "Could")):
                msg = msg.rstrip(".") + "?"
        turns = fillers(rng, pools, rng.randint(0, 3))
        in_hist = rng.random() < 0.6
        if in_hist:
            turns.insert(rng.randint(0, len(turns)), turn)
        add(turns, vary(rng, pools, msg), "unlearn", x, "history" if in_hist else "probe", "compositional")

    for _ in range(n_neg):
        r = rng.random()
        if r < 0.35:
            msg = rng.choice(C_ART_FRAMES).format(V=rng.choice(C_NEG_VERBS), A=rng.choice(C_ARTIFACTS))
        elif r < 0.5:
            msg = rng.choice(C_DEV_FRAMES).format(D=rng.choice(C_DEVICES), T=rng.choice(C_DEV_THINGS))
        elif r < 0.65:
            who, verb = rng.choice(C_SELF)
            adv = rng.choice(C_SELF_ADV)
            v = (
                ("keep forgetting" if who in ("I", "We") else "keeps forgetting")
                if adv == "keep on "
                else verb
            )
            msg = f"{who} {'' if adv == 'keep on ' else adv}{v} {rng.choice(C_SELF_THINGS)}. {rng.choice(C_SELF_Q)}"
        elif r < 0.75:
            msg = rng.choice(C_REMIND).format(R=rng.choice(C_REMIND_R))
        elif r < 0.85:
            msg = rng.choice(C_CONCEPT_FRAMES).format(C=rng.choice(C_CONCEPTS))
        elif r < 0.93:
            msg = rng.choice(C_HABIT_FRAMES).format(H=rng.choice(C_HABITS))
        else:
            z = rng.choice(pools.chat)
            msg = rng.choice(C_DISMISS).format(Z=z[0].lower() + z[1:])
        msg = msg.strip()
        msg = msg[0].upper() + msg[1:]
        turns = fillers(rng, pools, rng.randint(0, 3))
        add(turns, vary(rng, pools, msg), "chat", None, "none", "hard_negative")

    # chat that names a person, fact or personal datum, so that a name alone does not mean "unlearn"
    for _ in range(n_neg // 2):
        if rng.random() < 0.2:
            x, u, a = rng.choice(pools.personal)
            turn = (u, a)
        else:
            x, turn = subject(rng, pools, used)
        msg = rng.choice(C_SUBJ_CHAT).format(X=x)
        turns = fillers(rng, pools, rng.randint(0, 2)) + [turn]
        add(turns, vary(rng, pools, msg[0].upper() + msg[1:]), "chat", None, "none", "subject_chat")
    return rows


TRAIN_COUNTS = {
    "subject_in_history": 500,
    "subject_probe": 400,
    "deictic": 260,
    "personal_in_history": 140,
    "personal_probe": 90,
    "chat": 420,
    "hard_negative": 900,
    "subject_chat": 300,
    "followup": 40,
}
HELDOUT_COUNTS = {
    "subject_in_history": 50,
    "subject_probe": 45,
    "deictic": 45,
    "personal_in_history": 35,
    "personal_probe": 25,
    "chat": 70,
    "hard_negative": 100,
    "subject_chat": 40,
    "followup": 20,
}
FRESH_COUNTS = {
    "subject_in_history": 30,
    "subject_probe": 25,
    "deictic": 25,
    "personal_in_history": 15,
    "personal_probe": 10,
    "chat": 35,
    "hard_negative": 50,
    "subject_chat": 15,
    "followup": 10,
}


def dedupe(rows: list[dict]) -> list[dict]:
    seen: set[str] = set()
    out = []
    for r in rows:
        if r["message"] not in seen:
            seen.add(r["message"])
            out.append(r)
    return out


def main() -> None:
    train = dedupe(build(TRAIN, 1234, TRAIN_COUNTS, "tr") + compositional(TRAIN, 777, 700, 800, "tc"))
    heldout = build(HELDOUT, 98765, HELDOUT_COUNTS, "ho")
    fresh = build(FRESH, 4242, FRESH_COUNTS, "fr")

    def keys(rows: list[dict]) -> set[str]:
        return {r["message"].lower().rstrip(".!?") for r in rows}

    for name, rows in (("held-out", heldout), ("fresh", fresh)):
        overlap = keys(train) & keys(rows)
        assert not overlap, f"train/{name} overlap: {sorted(overlap)[:5]}"
    DATA.mkdir(parents=True, exist_ok=True)
    files = (
        ("watchdog_train.jsonl", train),
        ("watchdog_heldout.jsonl", heldout),
        ("watchdog_heldout_fresh.jsonl", fresh),
    )
    for name, rows in files:
        with open(DATA / name, "w") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        n_un = sum(r["label"] == "unlearn" for r in rows)
        print(f"{name}: {len(rows)} dialogues ({n_un} unlearn, {len(rows) - n_un} chat)")


if __name__ == "__main__":
    main()
