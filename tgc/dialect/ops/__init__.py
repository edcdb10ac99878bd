"""Every op family of the tgc dialect, one module each; ``registry.load_all_ops`` imports them
all."""
