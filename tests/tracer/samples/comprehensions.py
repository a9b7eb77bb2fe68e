"""Comprehensions, generator expressions and lambdas belong to the line that runs them."""


def square(x):
    return x * x


def main():
    squares = [x * x for x in range(4)]  # @inspect squares
    table = {k: v for k, v in zip("ab", range(2))}  # @inspect table
    total = sum(x for x in squares if x % 2 == 0)  # @inspect total
    calls = [square(x) for x in range(2)]  # @inspect calls
    key = sorted(["bb", "a"], key=lambda s: len(s))  # @inspect key


if __name__ == "__main__":
    main()
