"""Nested calls: a call step at the caller's line, then the callee's lines."""


def inner(x):
    y = x * 2  # @inspect y
    return y + 1


def middle(x):
    z = inner(x) + inner(x + 1)  # @inspect z
    return z


def main():
    first()  # section one
    second()  # section two


def first():
    """The first section"""
    value = middle(1)  # @inspect value


def second():
    return inner(5)


if __name__ == "__main__":
    main()
