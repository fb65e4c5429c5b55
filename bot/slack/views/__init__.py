"""Pure block builders, split by who reads them."""
