"""A library file that is not included: called at native speed, no steps."""


def total(xs):
    acc = 0
    for x in xs:
        acc += x
    return acc
