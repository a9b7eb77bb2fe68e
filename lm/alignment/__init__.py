"""lm.alignment: SFT, DPO and GRPO as pure tensor functions, with verifier rewards.

Names and return shapes follow the CS336 assignment 5 API. Training loops live in `loops.py`
and the end-to-end demo in `demo.py` (`python -m lm.alignment.demo`: base -> SFT -> DPO -> GRPO).
"""

from lm.alignment.data import tokenize_prompt_and_output
from lm.alignment.dpo import compute_per_instance_dpo_loss, dpo_loss
from lm.alignment.grpo import (
    compute_group_normalized_rewards,
    compute_grpo_clip_loss,
    compute_naive_policy_gradient_loss,
    compute_policy_gradient_loss,
    grpo_microbatch_train_step,
)
from lm.alignment.masking import (
    compute_entropy,
    get_response_log_probs,
    masked_mean,
    masked_normalize,
)
from lm.alignment.rewards import (
    grade_answer,
    parse_gsm8k_response,
    parse_mmlu_response,
    r1_zero_reward_fn,
)
from lm.alignment.sft import sft_microbatch_train_step

__all__ = [
    "compute_entropy",
    "compute_group_normalized_rewards",
    "compute_grpo_clip_loss",
    "compute_naive_policy_gradient_loss",
    "compute_per_instance_dpo_loss",
    "compute_policy_gradient_loss",
    "dpo_loss",
    "get_response_log_probs",
    "grade_answer",
    "grpo_microbatch_train_step",
    "masked_mean",
    "masked_normalize",
    "parse_gsm8k_response",
    "parse_mmlu_response",
    "r1_zero_reward_fn",
    "sft_microbatch_train_step",
    "tokenize_prompt_and_output",
]
