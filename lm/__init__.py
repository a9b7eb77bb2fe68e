"""lm: the LM code the lectures teach (tokenizer, model, kernels, parallelism, alignment, data).

A library on its own: it imports torch, triton, regex and numpy, and never the tracer.
"""
