"""@stepover: calls made from the line run untraced, including nested lecture calls."""


def helper(x):
    return twice(x) + 1


def twice(x):
    return 2 * x


def main():
    a = helper(1)  # @stepover @inspect a
    b = helper(2)  # @inspect b


if __name__ == "__main__":
    main()
