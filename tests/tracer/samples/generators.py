"""Generators keep one frame id across resumptions; yield lines are steps."""


def countdown(n):
    while n > 0:
        yield n  # @inspect n
        n -= 1


def pairs():
    received = yield "ready"  # @inspect received
    yield received * 2


def main():
    seen = []
    for value in countdown(2):
        seen.append(value)  # @inspect seen
    it = pairs()
    first = next(it)  # @inspect first
    second = it.send(21)  # @inspect second
    it.close()


if __name__ == "__main__":
    main()
