"""An uncaught exception: the trace still ends with an exception step."""


def divide(a, b):
    return a / b  # @inspect a b


def main():
    ok = divide(1, 2)  # @inspect ok
    try:
        divide(1, 0)
    finally:
        cleanup = True  # @inspect cleanup


if __name__ == "__main__":
    main()
