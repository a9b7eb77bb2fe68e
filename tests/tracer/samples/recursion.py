"""Recursion: each activation is its own frame with its own values."""


def factorial(n):
    if n <= 1:  # @inspect n
        return 1
    return n * factorial(n - 1)


def main():
    result = factorial(4)  # @inspect result


if __name__ == "__main__":
    main()
