"""Prompt templates, as data: each is a format string with named fields, nothing else.

R1_ZERO follows DeepSeek-R1-Zero (https://arxiv.org/abs/2501.12948): the model reasons inside
<think> tags and answers inside <answer> tags, which a verifier can check.
"""

from __future__ import annotations

R1_ZERO = (
    "A conversation between User and Assistant. The User asks a question, and the Assistant "
    "solves it. The Assistant first thinks about the reasoning process in the mind and then "
    "provides the User with the answer. The reasoning process is enclosed within <think> </think> "
    "and answer is enclosed within <answer> </answer> tags, respectively, i.e., <think> reasoning "
    "process here </think> <answer> answer here </answer>.\nUser: {question}\nAssistant: <think>"
)

QUESTION_ONLY = "{question}"

MMLU = (
    "Answer the following multiple choice question about {subject}. Respond with a single "
    'sentence of the form "The correct answer is _", filling the blank with the letter '
    "corresponding to the correct answer (i.e., A, B, C or D).\n\nQuestion: {question}\n"
    "A. {option_a}\nB. {option_b}\nC. {option_c}\nD. {option_d}\nAnswer:"
)

# The synthetic addition task of the demo: the whole prompt is the problem, e.g. "47+38=".
ADDITION = "{a}+{b}="

TEMPLATES = {"r1_zero": R1_ZERO, "question_only": QUESTION_ONLY, "mmlu": MMLU, "addition": ADDITION}
