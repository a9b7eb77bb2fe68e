"""Caught exceptions: an exception step where raised, then the handler's lines."""


def risky(x):
    if x < 0:
        raise ValueError(f"negative: {x}")
    return x


def main():
    try:
        risky(-1)
    except ValueError as error:
        message = str(error)  # @inspect message
    try:
        int("nope")
    except ValueError:
        fallback = 0  # @inspect fallback
    with open(__file__) as handle:
        first = handle.readline().strip()  # @inspect first
    try:
        with open(__file__):
            raise KeyError("inside with")
    except KeyError:
        pass
    done = True  # @inspect done


if __name__ == "__main__":
    main()
