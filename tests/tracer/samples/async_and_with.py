"""Coroutines and context managers: await/yield lines are recorded when they suspend and again when they finish."""

import asyncio
from contextlib import contextmanager


@contextmanager
def ctx():
    print("enter")
    yield 5
    print("exit")


async def fetch(n):
    await asyncio.sleep(0)
    return n * 2  # @inspect n


async def gather():
    a, b = await asyncio.gather(fetch(1), fetch(2))  # @inspect a b
    return a + b


def main():
    with ctx() as v:  # @inspect v
        w = v + 1  # @inspect w
    total = asyncio.run(gather())  # @inspect total


if __name__ == "__main__":
    main()
