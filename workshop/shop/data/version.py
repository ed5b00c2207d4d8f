"""What names a generated dataset besides its size: the generator's version and the default
seed. Apart from the generator (which needs numpy) so that setup(), finding the dataset
already loaded, checks it without importing numpy."""

GENERATOR_VERSION = 2  # 2: national ids drawn by a seeded random permutation, no longer linear in the id
DEFAULT_SEED = 42
