"""lm: the language-model code the lectures teach (tokenizer, model, kernels, parallelism, alignment).

A library on its own: it imports torch, triton, regex and numpy, and never the tracer.
"""
