"""--include: lines in an included library file are recorded; others are not."""

from samplelib.helpers import mean
from samplelib.untraced import total


def main():
    m = mean([1, 2, 3])  # @inspect m
    t = total([1, 2, 3])  # @inspect t


if __name__ == "__main__":
    main()
