"""Loops: for, while, break/continue, nested."""


def main():
    total = 0  # @inspect total
    for i in range(3):  # @inspect i
        total += i  # @inspect total
    n = 3
    while n > 0:
        n -= 1  # @inspect n
        if n == 1:
            continue
    for a in range(2):
        for b in range(2):
            if b == 1:
                break
            total += a * b
    result = [total, n]  # @inspect result


if __name__ == "__main__":
    main()
