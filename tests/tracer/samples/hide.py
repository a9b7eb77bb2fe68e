"""@hide: hidden lines and hidden functions (their callees too) make no steps."""


def setup():  # @hide
    value = 40
    return plus_two(value)


def plus_two(x):
    return x + 2


def main():
    secret = 1  # @hide
    answer = setup()  # @inspect answer
    shown = plus_two(secret)  # @inspect shown


if __name__ == "__main__":
    main()
