"""@clear and attribute paths: names stop being shown; values only sent when changed."""


class Box:
    def __init__(self):
        self.w = [1, 2]


def main():
    box = Box()  # @inspect box.w
    box.w.append(3)  # @inspect box.w
    box.w.append(4)  # @clear box.w
    same = 5  # @inspect same
    same = 5  # @inspect same
    nan = float("nan")  # @inspect nan


if __name__ == "__main__":
    main()
