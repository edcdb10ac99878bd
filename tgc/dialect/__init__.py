"""The tgc dialect: the op registry (one declaration per op), dtypes, IRDL generation."""
