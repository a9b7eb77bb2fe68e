import json

import pytest

from lm.alignment import grade_answer, parse_gsm8k_response, parse_mmlu_response, r1_zero_reward_fn
from lm.datafiles import data_path


def _gsm8k() -> list[dict[str, str]]:
    with data_path("gsm8k_test.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_parse_gsm8k_on_gold_answers_is_exact() -> None:
    examples = _gsm8k()
    assert len(examples) > 1000
    for ex in examples:
        expected = ex["answer"].split("####")[-1].strip().replace(",", "")
        assert parse_gsm8k_response(ex["answer"]) == expected


def test_grading_gold_against_itself_is_100_percent() -> None:
    examples = _gsm8k()
    correct = 0
    for ex in examples:
        reasoning, gold = ex["answer"].split("####")
        response = f"<think>{reasoning.strip()}</think> <answer>{gold.strip()}</answer>"
        score = r1_zero_reward_fn(response, ex["answer"])
        correct += score["reward"] == 1.0 and score["format_reward"] == 1.0
    assert correct == len(examples)


def test_parse_gsm8k_fallbacks() -> None:
    assert parse_gsm8k_response("so 1,200 in all.\n#### 1,200") == "1200"
    assert parse_gsm8k_response("about 7 or 8 apples") == "8"
    assert parse_gsm8k_response("it is -3.5 degrees") == "-3.5"
    assert parse_gsm8k_response("no numbers here") is None


def test_parse_mmlu() -> None:
    ex = {"options": ["red", "green", "blue", "black"]}
    assert parse_mmlu_response(ex, "The correct answer is B.") == "B"
    assert parse_mmlu_response(ex, "the answer is (d)") == "D"
    assert parse_mmlu_response(ex, " C ") == "C"
    assert parse_mmlu_response(ex, "blue") == "C"
    assert parse_mmlu_response(ex, "I am not sure") is None
    assert parse_mmlu_response(ex, "The correct answer is E") is None


@pytest.mark.parametrize(
    ("response", "truth", "expected"),
    [
        ("<think>2+2</think> <answer>4</answer>", "4", (1.0, 1.0, 1.0)),
        ("2+2</think> <answer> 4.0 </answer>", "#### 4", (1.0, 1.0, 1.0)),
        ("<think>2+2</think> <answer>5</answer>", "4", (1.0, 0.0, 0.0)),
        ("<think>2+2</think> 4", "4", (0.0, 0.0, 0.0)),
        ("<think>x</think> <answer>4</answer> and more", "4", (0.0, 0.0, 0.0)),
        ("<think>x</think> <answer>$1,200</answer>", "1200", (1.0, 1.0, 1.0)),
    ],
)
def test_r1_zero_reward(response: str, truth: str, expected: tuple[float, float, float]) -> None:
    score = r1_zero_reward_fn(response, truth)
    assert (score["format_reward"], score["answer_reward"], score["reward"]) == expected


def test_grade_answer() -> None:
    assert grade_answer("12.0", "12") and grade_answer("\\boxed{7}", "7")
    assert grade_answer("1/2", "0.5") and not grade_answer("13", "12")
