"""An included library file: its lines are recorded with --include."""


def mean(xs):
    total = sum(xs)  # @inspect total
    return total / len(xs)
